import Synchronization

/// Groups concurrent writes into shared transactions ("group commit").
///
/// Each caller enqueues its work; the first caller that finds no writer running becomes
/// the writer and drains the queue in rounds, each round one transaction, until the queue
/// is empty. Everyone else just waits for their own result. One fsync then covers many
/// agents' batches, and no background task is needed. The queue is bounded: past
/// `maxPending` callers get `StoreError.overloaded` at once instead of waiting forever.
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
    let maxPending: Int
    let maxGroup: Int

    init(maxPending: Int, maxGroup: Int) {
        self.maxPending = maxPending
        self.maxGroup = max(1, maxGroup)
    }

    /// Queue length right now (for metrics).
    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Submits `batch`; when this caller becomes the writer it runs `write` for each
    /// round of queued jobs.
    func submit(
        _ batch: PreparedBatch,
        write: @Sendable ([PreparedBatch]) async -> [Result<IngestOutcome, StoreError>]
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
            while true {
                let round: [Job] = state.withLock { s in
                    let n = min(s.pending.count, maxGroup)
                    let taken = Array(s.pending.prefix(n))
                    s.pending.removeFirst(n)
                    if taken.isEmpty { s.writing = false }
                    return taken
                }
                if round.isEmpty { break }
                let results = await write(round.map(\.batch))
                for (job, result) in zip(round, results) { job.promise.fulfill(result) }
            }
        }
        return await promise.value
    }
}

/// A value delivered once, awaited once.
final class Promise<Value: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<Value, Never>)
        case done(Value)
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
            case .done:
                return nil
            }
        }
        waiter?.resume(returning: value)
    }

    var value: Value {
        get async {
            await withCheckedContinuation { (c: CheckedContinuation<Value, Never>) in
                let ready: Value? = state.withLock { s in
                    switch s {
                    case .empty:
                        s = .waiting(c)
                        return nil
                    case .done(let v): return v
                    case .waiting: fatalError("Promise awaited twice")
                    }
                }
                if let ready { c.resume(returning: ready) }
            }
        }
    }
}
