import GRDB
import GRDBSQLite

/// Values bound by position straight into a prepared statement, each through its own
/// type's binding: no `StatementArguments` of boxed values built, checked and unpacked per
/// row. The ingest writer is the collector's one serial thread, and that boxing was about
/// a tenth of its time per event (issue 15, "events").
///
/// `bound()` checks that every parameter was bound, so a statement and its values cannot
/// drift apart silently. A recording instance keeps the values instead (a record's
/// `values`, for GRDB's own persistence), so a row lists its columns once.
struct TypedBindings {
    private let statement: Statement?
    private var next: CInt = 1
    /// The values given, when recording.
    private(set) var recorded: [(any DatabaseValueConvertible)?] = []

    /// Clears the statement's bindings. It marks its arguments as given (none), so that
    /// executing it without arguments keeps the bindings made here.
    init(_ statement: Statement) {
        statement.setUncheckedArguments([])
        self.statement = statement
    }

    private init() { statement = nil }

    /// An instance that records the values it is given.
    static func recording() -> TypedBindings { TypedBindings() }

    /// Binds `values` to the next parameters.
    mutating func add<each V: DatabaseValueConvertible>(_ values: repeat each V) throws {
        for value in repeat each values {
            if let statement {
                let code = value.bind(to: statement.sqliteStatement, at: next)
                guard code == SQLITE_OK else {
                    throw DatabaseError(
                        resultCode: ResultCode(rawValue: code), message: "binding parameter \(next)",
                        sql: statement.sql)
                }
            } else {
                recorded.append(value)
            }
            next += 1
        }
    }

    /// The statement, once every parameter is bound.
    func bound() throws -> Statement {
        guard let statement else { throw DatabaseError(message: "recorded values are bound to no statement") }
        let count = sqlite3_bind_parameter_count(statement.sqliteStatement)
        guard next == count + 1 else {
            throw DatabaseError(message: "bound \(next - 1) of \(count) parameters", sql: statement.sql)
        }
        return statement
    }
}

extension Statement {
    /// Executes the statement with `values` bound by position (see `TypedBindings`).
    func execute<each V: DatabaseValueConvertible>(binding values: repeat each V) throws {
        var bindings = TypedBindings(self)
        try bindings.add(repeat each values)
        try bindings.bound().execute()
    }
}
