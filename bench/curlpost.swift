// The floor for any Swift program that uploads with the required libcurl: the same work
// as bench/curlpost.c (global init, one reused easy handle, a small JSON POST every
// interval), built like the agent (static Swift runtime). bench/agent-footprint.sh
// measures its RSS beside the agent's.
//
//   swiftc -O -static-stdlib -I Sources/CCurl bench/curlpost.swift -lcurl -o curlpost-swift
//   curlpost-swift URL [INTERVAL_MS]
import CCurl
import Glibc

let args = CommandLine.arguments
guard args.count >= 2 else {
    fputs("usage: curlpost-swift URL [INTERVAL_MS]\n", stderr)
    exit(2)
}
let intervalMs = args.count > 2 ? UInt32(args[2]) ?? 1000 : 1000
guard curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK, let handle = curl_easy_init() else { exit(1) }
let headers = curl_slist_append(nil, "Content-Type: application/json")
_ = oomw_curl_setopt_string(handle, CURLOPT_URL, args[1])
_ = oomw_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)
_ = oomw_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, 5000)
_ = oomw_curl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION) { _, size, count, _ in size * count }
while true {
    _ = oomw_curl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, #"{"host":"bench","snapshots":[],"events":[]}"#)
    _ = curl_easy_perform(handle)
    usleep(intervalMs * 1000)
}
