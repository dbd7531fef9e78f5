import Dispatch
import Synchronization

/// Groups concurrent writes into shared transactions ("group commit").
///
/// Each caller enqueues its work; the first caller that finds no writer running starts a
/// writer that drains the queue in rounds, each round one transaction, until the queue is
/// empty. Every caller (the one that started it too) just waits for its own result. One
/// fsync then covers many agents' batches. The writer is a block on a serial dispatch
/// queue that writes synchronously (GRDB runs a synchronous write on the calling thread),
/// not a task awaiting the database's queue: two thread hops fewer per round (issue 15,
/// collector CPU), and never the starting request's own task, so cancelling that request
/// (its client disconnected) never reaches the database and fails everyone else's
/// batches with it.
/// A cancelled caller stops waiting and gets `StoreError.cancelled`; its batch is still
/// written (re-sends are idempotent). The queue is bounded: past `maxPending` callers
/// get `StoreError.overloaded` at once instead of waiting forever.
final class GroupWriter: Sendable {
    struct Job: Sendable {
        let batch: PreparedBatch
        let promise: Promise<Result<IngestOutcome, StoreError>>
    }

    struct State {
        var pending: [Job] = []
        var writing = false
    }

    let state = Mutex(State())
    let queue = DispatchQueue(label: "oomwatch.ingest-writer")
    let maxPending: Int
    let maxGroup: Int

    init(maxPending: Int, maxGroup: Int) {
        self.maxPending = maxPending
        self.maxGroup = max(1, maxGroup)
    }

    /// Queue length right now (for metrics).
    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Submits `batch`; when no writer is running, starts one that runs `write` for each
    /// round of queued jobs.
    func submit(
        _ batch: PreparedBatch,
        write: @escaping @Sendable ([PreparedBatch]) -> [Result<IngestOutcome, StoreError>]
    ) async -> Result<IngestOutcome, StoreError> {
        let promise = Promise<Result<IngestOutcome, StoreError>>()
        let lead: Bool? = state.withLock { s in
            if s.pending.count >= maxPending { return nil }
            s.pending.append(Job(batch: batch, promise: promise))
            if s.writing { return false }
            s.writing = true
            return true
        }
        guard let lead else { return .failure(.overloaded) }
        if lead {
            // Off this request's task: it does not inherit its cancellation.
            queue.async { self.drain(write: write) }
        }
        return await promise.value(ifCancelled: .failure(.cancelled))
    }

    /// Writes queued jobs round by round until the queue is empty.
    private func drain(write: @Sendable ([PreparedBatch]) -> [Result<IngestOutcome, StoreError>]) {
        while true {
            let round: [Job] = state.withLock { s in
                let n = min(s.pending.count, maxGroup)
                let taken = Array(s.pending.prefix(n))
                s.pending.removeFirst(n)
                if taken.isEmpty { s.writing = false }
                return taken
            }
            if round.isEmpty { return }
            let results = write(round.map(\.batch))
            for (job, result) in zip(round, results) { job.promise.fulfill(result) }
        }
    }
}

/// A value delivered once, awaited once.
final class Promise<Value: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<Value, Never>)
        case done(Value)
        /// The waiter was cancelled and has gone; a later value is dropped.
        case abandoned
    }
    private let state = Mutex(State.empty)

    func fulfill(_ value: Value) {
        let waiter: CheckedContinuation<Value, Never>? = state.withLock { s in
            switch s {
            case .empty:
                s = .done(value)
                return nil
            case .waiting(let c):
                s = .done(value)
                return c
            case .done, .abandoned:
                return nil
            }
        }
        waiter?.resume(returning: value)
    }

    /// The value, or `cancelled` as soon as the awaiting task is cancelled before the
    /// value arrives.
    func value(ifCancelled cancelled: Value) async -> Value {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Value, Never>) in
                let ready: Value? = state.withLock { s in
                    switch s {
                    case .empty:
                        // Cancelled before we got here: the handler found no waiter.
                        if Task.isCancelled {
                            s = .abandoned
                            return cancelled
                        }
                        s = .waiting(c)
                        return nil
                    case .done(let v): return v
                    case .waiting, .abandoned: fatalError("Promise awaited twice")
                    }
                }
                if let ready { c.resume(returning: ready) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Value, Never>? = state.withLock { s in
                guard case .waiting(let c) = s else { return nil }
                s = .abandoned
                return c
            }
            waiter?.resume(returning: cancelled)
        }
    }
}
