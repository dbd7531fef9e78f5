/* The floor that the agent's required HTTP library sets on its resident memory: a
 * minimal C program that does nothing but what the agent's uploader does with libcurl
 * (global init, one reused easy handle, a small JSON POST every interval) and sleeps.
 *
 *   curlpost URL [INTERVAL_MS]
 *
 * Its RSS, measured beside the agent and node_exporter in bench/agent-footprint.sh, is
 * what Debian's libcurl4-openssl and the ~35 libraries it loads (OpenSSL, GnuTLS via
 * librtmp, Kerberos, LDAP, libssh2, nghttp2, ...) cost any process that uses it.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static size_t discard(char *p, size_t size, size_t n, void *u) {
    (void)p;
    (void)u;
    return size * n;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: curlpost URL [INTERVAL_MS]\n");
        return 2;
    }
    long interval_ms = argc > 2 ? atol(argv[2]) : 1000;
    if (curl_global_init(CURL_GLOBAL_ALL) != 0) return 1;
    CURL *h = curl_easy_init();
    if (!h) return 1;
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, argv[1]);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    for (;;) {
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, "{\"host\":\"bench\",\"snapshots\":[],\"events\":[]}");
        curl_easy_perform(h);
        usleep((useconds_t)interval_ms * 1000);
    }
}
