// sqlite3_config is variadic, which Swift cannot call: one fixed-argument wrapper.
#include <sqlite3.h>

/// Turns SQLite's memory statistics off (SQLITE_CONFIG_MEMSTATUS): with them on, every
/// allocation SQLite makes takes a process-wide mutex to count it. Only possible before
/// SQLite initializes (the process's first connection): returns SQLITE_MISUSE after.
static inline int oomwatch_sqlite3_memstatus_off(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
