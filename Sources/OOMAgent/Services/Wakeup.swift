import Dispatch
import Synchronization

/// A wake-up call between services: "a kill happened, take a snapshot now", "an event is
/// spooled, upload now", "shutting down". A signal sent while nobody waits is kept for the
/// next `wait`.
public final class Wakeup: Sendable {
    private struct State {
        var signaled = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.signaled = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns after `seconds`, or earlier on `signal()`.
    public func wait(seconds: Double) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let generation: UInt64? = state.withLock { s in
                if s.signaled {
                    s.signaled = false
                    return nil
                }
                s.generation &+= 1
                s.waiter = c
                return s.generation
            }
            guard let generation else {
                c.resume()
                return
            }
            // A Dispatch timer, not a Task: no stray tasks outside the service group.
            DispatchQueue.global().asyncAfter(deadline: .now() + max(0, seconds)) { [self] in
                let waiter = self.state.withLock { s -> CheckedContinuation<Void, Never>? in
                    guard s.generation == generation, let w = s.waiter else { return nil }
                    s.waiter = nil
                    return w
                }
                waiter?.resume()
            }
        }
    }
}
