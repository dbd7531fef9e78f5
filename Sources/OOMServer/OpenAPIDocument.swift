// Generated from docs/openapi.yaml by docs/gen-openapi-swift.sh: do not edit.
// swift-format-ignore-file
enum OpenAPIDocument {
    static let yaml = #"""
openapi: 3.0.3
info:
  title: oomwatch collector API
  version: "1.0.0"
  description: |
    Fleet memory and OOM-kill history. Authenticate with `Authorization: Bearer TOKEN`.
    Roles: agent (ingest), read (queries), admin (both). Errors are
    `{"error": {"message": "..."}}`; a 400 names the offending field.
    `since`/`until` take RFC 3339 or a duration back from now (`30m`, `24h`, `7d`).
servers:
  - url: http://127.0.0.1:8080
security:
  - bearer: []
paths:
  /api/v1/ingest:
    post:
      summary: Store a batch of snapshots and OOM events (agent or admin token)
      description: >-
        Answers only after the batch is committed. Re-sent event ids are counted as duplicates and store nothing.
        403 when an agent token bound to other hosts (`host=GLOB` in the tokens file) sends this host's batch;
        400 naming the field for a time more than limits.max_future_skew_seconds (default 600) ahead of the
        collector's clock, and for an object naming a key twice.
        A process may be sent by reference (`ref`, see ProcessSample) once the collector answered
        `process_refs: true`; 409 when this collector does not hold the details a reference names
        (nothing is stored): the agent sends the same batch again in full.
      parameters:
        - in: header
          name: Content-Encoding
          schema: {type: string, enum: [gzip, identity]}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/IngestBatch"}
      responses:
        "200":
          description: Stored
          content:
            application/json:
              schema: {$ref: "#/components/schemas/IngestResult"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "408": {$ref: "#/components/responses/Error"}
        "409": {$ref: "#/components/responses/Error"}
        "413": {$ref: "#/components/responses/Error"}
        "415": {$ref: "#/components/responses/Error"}
        "429": {$ref: "#/components/responses/RetryLater"}
        "503": {$ref: "#/components/responses/RetryLater"}
  /api/v1/agent/check:
    get:
      summary: Is this token accepted for ingest? (agent or admin token; stores nothing)
      description: >-
        A harmless request for `oomwatch-agent check`: 200 only to a token that may ingest,
        the same 401/403 an ingest would get otherwise.
      responses:
        "200":
          description: The token may ingest
          content:
            application/json:
              schema: {$ref: "#/components/schemas/AgentCheck"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "429": {$ref: "#/components/responses/RetryLater"}
  /api/v1/hosts:
    get:
      summary: Every host with its latest memory state (read token)
      responses:
        "200":
          description: Hosts
          content:
            application/json:
              schema:
                type: object
                required: [hosts]
                properties:
                  hosts:
                    type: array
                    items: {$ref: "#/components/schemas/HostStatus"}
                  missing:
                    description: >-
                      Host names in the collector's expected_hosts_file that never reported
                      (absent without such a file).
                    type: array
                    items: {type: string}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
  /api/v1/hosts/{host}/snapshots:
    get:
      summary: A host's memory over a time range, downsampled (read token)
      parameters:
        - {in: path, name: host, required: true, description: "percent-decoded", schema: {type: string, maxLength: 253}}
        - {$ref: "#/components/parameters/since"}
        - {$ref: "#/components/parameters/until"}
        - {in: query, name: points, schema: {type: integer, minimum: 1, maximum: 5000, default: 200}}
      responses:
        "200":
          description: Buckets oldest first
          content:
            application/json:
              schema: {$ref: "#/components/schemas/SnapshotsResponse"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "404": {$ref: "#/components/responses/Error"}
  /api/v1/events:
    get:
      summary: OOM events, newest first, keyset-paginated (read token)
      parameters:
        - {in: query, name: host, schema: {type: string}}
        - {in: query, name: comm, schema: {type: string}}
        - {in: query, name: source, schema: {type: string, enum: [kernel, systemd-oomd, earlyoom]}}
        - {in: query, name: scope, schema: {type: string, enum: [global, memcg, cpuset, mempolicy]}}
        - {in: query, name: unit, schema: {type: string}}
        - {in: query, name: container, schema: {type: string}}
        - {$ref: "#/components/parameters/since"}
        - {$ref: "#/components/parameters/until"}
        - {in: query, name: limit, schema: {type: integer, minimum: 1, maximum: 1000, default: 100}}
        - {in: query, name: cursor, description: "next_cursor of the previous page", schema: {type: string}}
      responses:
        "200":
          description: A page of events
          content:
            application/json:
              schema:
                type: object
                required: [events, next_cursor]
                properties:
                  events:
                    type: array
                    items: {$ref: "#/components/schemas/OOMEvent"}
                  next_cursor: {type: string, nullable: true}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
  /api/v1/events/{id}:
    get:
      summary: One OOM event (read token)
      parameters:
        - {in: path, name: id, required: true, schema: {type: string, maxLength: 128}}
      responses:
        "200":
          description: The event
          content:
            application/json:
              schema: {$ref: "#/components/schemas/OOMEvent"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "404": {$ref: "#/components/responses/Error"}
  /api/v1/reports/summary:
    get:
      summary: Fleet OOM report over a time range (read token; since defaults to 7d)
      parameters:
        - {$ref: "#/components/parameters/since"}
        - {$ref: "#/components/parameters/until"}
      responses:
        "200":
          description: The report
          content:
            application/json:
              schema: {$ref: "#/components/schemas/SummaryReport"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
  /api/v1/reports/advice:
    get:
      summary: What to change, host by host, from the fleet's OOM history (read token; since defaults to 30d)
      parameters:
        - {$ref: "#/components/parameters/since"}
        - {$ref: "#/components/parameters/until"}
        - {in: query, name: host, schema: {type: string, maxLength: 253}}
      responses:
        "200":
          description: Findings, most severe first
          content:
            application/json:
              schema: {$ref: "#/components/schemas/AdviceReport"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
  /api/v1/top:
    get:
      summary: Largest processes across the fleet from each host's latest snapshot (read token)
      parameters:
        - {in: query, name: host, schema: {type: string}}
        - {in: query, name: limit, schema: {type: integer, minimum: 1, maximum: 1000, default: 20}}
      responses:
        "200":
          description: Processes, largest RSS first
          content:
            application/json:
              schema:
                type: object
                required: [processes]
                properties:
                  processes:
                    type: array
                    items:
                      type: object
                      required: [host, time, process]
                      properties:
                        host: {type: string}
                        time: {type: string, format: date-time}
                        process: {$ref: "#/components/schemas/ProcessSample"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
  /api/v1/alerts:
    get:
      summary: Alert notifications and each receiver's delivery state (read token)
      parameters:
        - {in: query, name: state, schema: {type: string, enum: [sent, pending, failing]}}
        - {in: query, name: limit, schema: {type: integer, minimum: 1, maximum: 1000, default: 100}}
      responses:
        "200":
          description: Receivers (sent, pending, failing, last error) and the newest notifications
          content:
            application/json:
              schema:
                type: object
                required: [receivers, notifications]
                properties:
                  receivers:
                    type: array
                    items:
                      type: object
                      required: [receiver, sent, pending, failing]
                      properties:
                        receiver: {type: string}
                        sent: {type: integer}
                        pending: {type: integer, description: not tried yet (grouping window or rate limit)}
                        failing: {type: integer, description: tried and not yet accepted; retried with backoff}
                        last_error: {type: string, nullable: true}
                        last_sent: {type: string, format: date-time, nullable: true}
                  notifications:
                    type: array
                    items:
                      type: object
                      required: [id, kind, receiver, state, host, event_id, comm, created, attempts]
                      properties:
                        id: {type: integer}
                        kind: {type: string, enum: [kill, test]}
                        receiver: {type: string}
                        state: {type: string, enum: [sent, pending, failing]}
                        host: {type: string}
                        event_id: {type: string}
                        comm: {type: string}
                        created: {type: string, format: date-time}
                        sent_at: {type: string, format: date-time, nullable: true}
                        attempts: {type: integer}
                        next_attempt: {type: string, format: date-time, nullable: true}
                        last_error: {type: string, nullable: true}
                        idempotency_key: {type: string, nullable: true, description: the first event id of the message}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
  /api/v1/alerts/test:
    post:
      summary: Queue a test message for one receiver (admin token)
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [receiver]
              properties:
                receiver: {type: string}
      responses:
        "202":
          description: Queued in the outbox; GET /api/v1/alerts shows its delivery
          content:
            application/json:
              schema:
                type: object
                required: [id, receiver]
                properties:
                  id: {type: integer}
                  receiver: {type: string}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "404": {$ref: "#/components/responses/Error"}
  /healthz:
    get:
      summary: Liveness (no token)
      security: []
      responses:
        "200": {$ref: "#/components/responses/Health"}
  /readyz:
    get:
      summary: Readiness, the database answers (no token)
      security: []
      responses:
        "200": {$ref: "#/components/responses/Health"}
        "503": {$ref: "#/components/responses/Error"}
  /metrics:
    get:
      summary: Prometheus text format (read token; Prometheus sends it with `authorization.credentials_file`)
      responses:
        "200":
          description: Metrics
          content:
            text/plain: {schema: {type: string}}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "429": {$ref: "#/components/responses/RetryLater"}
  /openapi.yaml:
    get:
      summary: This document (no token)
      security: []
      responses:
        "200":
          description: OpenAPI 3 YAML
          content:
            application/yaml: {schema: {type: string}}
  /:
    get:
      summary: The web dashboard (no token; the page asks for a read token)
      security: []
      responses:
        "200":
          description: HTML
          content:
            text/html: {schema: {type: string}}
  /dashboard:
    get:
      summary: The web dashboard, also under /dashboard/{file}
      security: []
      responses:
        "200":
          description: HTML
          content:
            text/html: {schema: {type: string}}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
  parameters:
    since:
      in: query
      name: since
      schema: {type: string, example: 24h}
    until:
      in: query
      name: until
      schema: {type: string, example: "2026-11-28T12:00:00Z"}
  responses:
    Error:
      description: Error
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    BadRequest:
      description: Malformed JSON or an invalid field (the message names it)
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    Unauthorized:
      description: No valid token
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    Forbidden:
      description: The token's role may not do this
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    RetryLater:
      description: Too many requests or collector busy; see Retry-After
      headers:
        Retry-After: {schema: {type: integer}}
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    Health:
      description: OK
      content:
        application/json:
          schema:
            type: object
            properties:
              status: {type: string}
  schemas:
    Error:
      type: object
      required: [error]
      properties:
        error:
          type: object
          required: [message]
          properties:
            message: {type: string}
    IngestBatch:
      type: object
      required: [host]
      properties:
        host: {type: string, minLength: 1, maxLength: 253}
        boot_id: {type: string, maxLength: 64}
        agent:
          type: object
          required: [version]
          properties:
            version: {type: string}
            interval_s: {type: number, minimum: 0.1, maximum: 86400}
            dropped_snapshots: {type: integer, minimum: 0}
            dropped_events: {type: integer, minimum: 0}
            corrupt_records: {type: integer, minimum: 0}
            kmsg_overruns: {type: integer, minimum: 0}
            kmsg_missed_records: {type: integer, minimum: 0}
            unattributed_kills: {type: integer, minimum: 0}
            source_errors: {type: integer, minimum: 0}
            upload_refused: {type: integer, minimum: 0}
            journal_refused: {type: integer, minimum: 0, description: "journal entries claiming a userspace kill that journald's trusted fields did not back"}
        snapshots:
          type: array
          maxItems: 2000
          items: {$ref: "#/components/schemas/MemorySnapshot"}
        events:
          type: array
          maxItems: 10000
          items: {$ref: "#/components/schemas/OOMEvent"}
    AgentCheck:
      type: object
      required: [status, role]
      properties:
        status: {type: string, enum: [ok]}
        role: {type: string, enum: [agent, admin]}
        name: {type: string, nullable: true}
        server_time: {type: string, format: date-time}
    IngestResult:
      type: object
      required: [events_stored, events_duplicate, snapshots_stored]
      properties:
        events_stored: {type: integer}
        events_duplicate: {type: integer}
        snapshots_stored: {type: integer}
        process_refs:
          type: boolean
          description: This collector takes processes by reference (ProcessSample.ref) from now on.
    Pressure:
      type: object
      properties:
        some_avg10: {type: number}
        some_avg60: {type: number}
        some_avg300: {type: number}
        some_total_us: {type: integer}
        full_avg10: {type: number, nullable: true}
        full_avg60: {type: number, nullable: true}
        full_avg300: {type: number, nullable: true}
        full_total_us: {type: integer, nullable: true}
    ProcessSample:
      type: object
      required: [pid, comm, rss_kb]
      properties:
        pid: {type: integer}
        ppid: {type: integer}
        comm: {type: string}
        cmdline: {type: string}
        uid: {type: integer}
        started_at: {type: string, format: date-time}
        vm_size_kb: {type: integer}
        rss_kb: {type: integer}
        rss_anon_kb: {type: integer}
        rss_file_kb: {type: integer}
        rss_shmem_kb: {type: integer}
        swap_kb: {type: integer}
        oom_score: {type: integer}
        oom_score_adj: {type: integer}
        cgroup: {type: string}
        unit: {type: string}
        container_id: {type: string}
        pod_uid: {type: string}
        ref:
          type: string
          pattern: "^[0-9a-f]{16}$"
          description: >-
            Ingest only: the details (pid, ppid, comm, cmdline, uid, started_at, cgroup, unit,
            container_id, pod_uid) are those of the process the agent sent in its last acknowledged
            batch with this digest; comm is empty and only the moving numbers are sent. Never in answers.
    MemorySnapshot:
      type: object
      required: [host, time, memory, vmstat, processes, cgroups]
      properties:
        host: {type: string}
        boot_id: {type: string}
        time: {type: string, format: date-time}
        uptime_s: {type: number}
        kernel: {type: string}
        memory: {type: object, additionalProperties: {type: integer}}
        vmstat: {type: object, additionalProperties: {type: integer}}
        pressure: {$ref: "#/components/schemas/Pressure"}
        processes:
          type: array
          items: {$ref: "#/components/schemas/ProcessSample"}
        cgroups:
          type: array
          items:
            type: object
            required: [path]
            properties:
              path: {type: string}
              usage_kb: {type: integer}
              limit_kb: {type: integer, nullable: true}
              oom_kill: {type: integer}
        sysctl:
          type: object
          description: OOM-related sysctls under /proc/sys/vm (sent when they change)
          properties:
            overcommit_memory: {type: integer}
            overcommit_ratio: {type: integer}
            panic_on_oom: {type: integer}
            oom_kill_allocating_task: {type: integer}
            swappiness: {type: integer}
            min_free_kbytes: {type: integer}
        swaps:
          type: array
          items:
            type: object
            required: [device, type, size_kb, used_kb]
            properties:
              device: {type: string}
              type: {type: string}
              size_kb: {type: integer}
              used_kb: {type: integer}
              priority: {type: integer}
        zram:
          type: array
          items:
            type: object
            required: [device, disksize_kb]
            properties:
              device: {type: string}
              disksize_kb: {type: integer}
              mem_used_kb: {type: integer}
        userspace_killers:
          type: object
          required: [systemd_oomd, earlyoom]
          properties:
            systemd_oomd: {type: boolean}
            earlyoom: {type: boolean}
        critical:
          type: array
          items:
            type: object
            required: [service, pid, comm]
            properties:
              service: {type: string}
              pid: {type: integer}
              comm: {type: string}
              oom_score_adj: {type: integer}
              unit: {type: string}
              cgroup: {type: string}
              memory_max_kb: {type: integer}
              memory_high_kb: {type: integer}
    OOMEvent:
      type: object
      required: [id, source, victim]
      properties:
        id: {type: string, maxLength: 128, pattern: "^[A-Za-z0-9._:-]+$", description: "the same kill has the same id in every log it is read from; the collector keeps the id it is sent (docs/event-ids.md)"}
        host: {type: string}
        boot_id: {type: string}
        source: {type: string, enum: [kernel, systemd-oomd, earlyoom]}
        time: {type: string, format: date-time}
        uptime_s: {type: number}
        scope: {type: string, enum: [global, memcg, cpuset, mempolicy]}
        victim:
          type: object
          required: [comm]
          properties:
            pid: {type: integer, nullable: true, description: "null when the killer names no process (systemd-oomd kills a cgroup)"}
            comm: {type: string}
            uid: {type: integer}
            total_vm_kb: {type: integer}
            anon_rss_kb: {type: integer}
            file_rss_kb: {type: integer}
            shmem_rss_kb: {type: integer}
            pgtables_kb: {type: integer}
            oom_score_adj: {type: integer}
            score: {type: integer}
            cgroup: {type: string}
            unit: {type: string}
            container_id: {type: string}
            pod_uid: {type: string}
            cmdline: {type: string}
            last_rss_kb: {type: integer}
            rss_kb: {type: integer, description: "total RSS as a userspace killer reported it (earlyoom's VmRSS)"}
        trigger:
          type: object
          properties:
            pid: {type: integer}
            comm: {type: string}
            gfp_mask: {type: string}
            order: {type: integer}
            oom_score_adj: {type: integer}
            oom_adj: {type: integer}
        memcg:
          type: object
          properties:
            oom: {type: string}
            task: {type: string}
            usage_kb: {type: integer}
            limit_kb: {type: integer}
            failcnt: {type: integer}
        candidates:
          type: array
          items:
            type: object
            required: [pid, name]
            properties:
              pid: {type: integer}
              uid: {type: integer}
              tgid: {type: integer}
              total_vm_pages: {type: integer}
              rss_pages: {type: integer}
              rss_anon_pages: {type: integer}
              rss_file_pages: {type: integer}
              rss_shmem_pages: {type: integer}
              pgtables_bytes: {type: integer}
              swapents: {type: integer}
              oom_score_adj: {type: integer}
              name: {type: string}
        constraint: {type: string}
        cpuset: {type: string}
        mems_allowed: {type: string}
        reaped:
          type: object
          properties:
            anon_rss_kb: {type: integer}
            file_rss_kb: {type: integer}
            shmem_rss_kb: {type: integer}
        raw: {type: string}
        partial:
          type: boolean
          description: true when the report was cut off after the victim was named (no `Killed process` line was read)
    HostStatus:
      type: object
      required: [host, last_seen, stale, kills_24h]
      properties:
        host: {type: string}
        last_seen: {type: string, format: date-time}
        stale: {type: boolean, description: silent for three snapshot intervals}
        boot_id: {type: string}
        agent_version: {type: string}
        interval_s: {type: number}
        kernel: {type: string}
        snapshot_time: {type: string, format: date-time}
        memory: {type: object, additionalProperties: {type: integer}}
        pressure: {$ref: "#/components/schemas/Pressure"}
        available_pct: {type: number}
        kills_24h: {type: integer}
        last_kill: {type: string, format: date-time}
        at_risk: {type: boolean}
        agent: {type: object, description: the agent's version and loss counters}
    SnapshotPoint:
      type: object
      required: [time, samples]
      properties:
        time: {type: string, format: date-time}
        samples: {type: integer}
        total_kb: {type: integer}
        available_kb: {type: integer}
        min_available_kb: {type: integer}
        free_kb: {type: integer}
        cached_kb: {type: integer}
        anon_kb: {type: integer}
        shmem_kb: {type: integer}
        swap_total_kb: {type: integer}
        swap_free_kb: {type: integer}
        some_avg10: {type: number}
        some_avg60: {type: number}
        full_avg10: {type: number}
        full_avg60: {type: number}
        oom_kill: {type: integer}
    SnapshotsResponse:
      type: object
      required: [host, since, until, step_s, points]
      properties:
        host: {type: string}
        since: {type: string, format: date-time}
        until: {type: string, format: date-time}
        step_s: {type: number}
        points:
          type: array
          items: {$ref: "#/components/schemas/SnapshotPoint"}
        latest: {$ref: "#/components/schemas/MemorySnapshot"}
    CountRow:
      type: object
      required: [key, kills]
      properties:
        key: {type: string}
        kills: {type: integer}
        last_kill: {type: string, format: date-time}
    AdviceReport:
      type: object
      required: [since, until, generated_at, findings]
      properties:
        since: {type: string, format: date-time}
        until: {type: string, format: date-time}
        generated_at: {type: string, format: date-time}
        findings:
          type: array
          items: {$ref: "#/components/schemas/AdviceFinding"}
    AdviceFinding:
      type: object
      required: [kind, severity, host, subject, evidence, action]
      properties:
        kind:
          type: string
          enum: [critical-victim, critical-unprotected, leak-suspect, memcg-limit-tight, no-swap,
            overcommit-risk, exhaustion-predicted, wrong-victim, no-userspace-killer]
        severity: {type: string, enum: [info, warning, critical]}
        host: {type: string}
        subject: {type: string, description: "process, unit, container or cgroup (the host for host-wide findings)"}
        evidence:
          type: object
          required: [text, event_ids, values]
          properties:
            text: {type: string, description: the numbers with their times, as a sentence}
            event_ids: {type: array, items: {type: string}, description: "ids of the kills it is based on, newest first"}
            values: {type: object, additionalProperties: {type: number}}
            first: {type: string, format: date-time}
            last: {type: string, format: date-time}
        action: {type: string, description: the concrete change to make}
    SummaryReport:
      type: object
      required: [since, until, generated_at, totals, by_host, by_comm, by_unit, by_container, by_day, largest_victims, repeat_offenders, hosts_at_risk]
      properties:
        since: {type: string, format: date-time}
        until: {type: string, format: date-time}
        generated_at: {type: string, format: date-time}
        totals:
          type: object
          required: [kills, hosts, hosts_with_kills, stale_hosts, by_source, by_scope]
          properties:
            kills: {type: integer}
            hosts: {type: integer}
            hosts_with_kills: {type: integer}
            stale_hosts: {type: integer}
            by_source: {type: object, additionalProperties: {type: integer}}
            by_scope: {type: object, additionalProperties: {type: integer}}
        by_host: {type: array, items: {$ref: "#/components/schemas/CountRow"}}
        by_comm: {type: array, items: {$ref: "#/components/schemas/CountRow"}}
        by_unit: {type: array, items: {$ref: "#/components/schemas/CountRow"}}
        by_container: {type: array, items: {$ref: "#/components/schemas/CountRow"}}
        by_day:
          type: array
          items:
            type: object
            required: [day, kills]
            properties:
              day: {type: string, format: date}
              kills: {type: integer}
        largest_victims:
          type: array
          items:
            type: object
            required: [id, host, source, pid, comm, rss_kb]
            properties:
              id: {type: string}
              host: {type: string}
              time: {type: string, format: date-time}
              source: {type: string}
              pid: {type: integer}
              comm: {type: string}
              rss_kb: {type: integer}
              unit: {type: string}
              container_id: {type: string}
        repeat_offenders:
          type: array
          items:
            type: object
            required: [host, comm, kills]
            properties:
              host: {type: string}
              comm: {type: string}
              kills: {type: integer}
              first_kill: {type: string, format: date-time}
              last_kill: {type: string, format: date-time}
        hosts_at_risk:
          type: array
          items:
            type: object
            required: [host, snapshot_time, reasons]
            properties:
              host: {type: string}
              snapshot_time: {type: string, format: date-time}
              available_pct: {type: number}
              full_avg60: {type: number}
              reasons: {type: array, items: {type: string, enum: [memory_available, psi_full]}}
"""#
}
