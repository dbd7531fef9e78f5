import Testing

@testable import OOMAgent

/// The kill ledger against scripted timelines (monotonic seconds; margin 1 s). The real
/// kernel's version of these is in EndToEndTests' `RealKillEndToEndTests`.
@Suite struct KillLedgerTests {
    /// One vmstat sample: mark, read, sample, as the sampler does.
    func sample(_ l: KillLedger, _ oomKill: Int64, at: Double) -> Int64 {
        l.sample(mark: l.mark(), oomKill: oomKill, at: at)
    }

    @Test func lostKillIsCountedOnceItsSampleIsJudged() {
        let l = KillLedger(margin: 1)
        l.caughtUp(readStartedAt: 0)
        #expect(sample(l, 5, at: 1) == 0)
        l.recordKill()
        l.caughtUp(readStartedAt: 1.5)  // too early to judge the sample at 1
        #expect(sample(l, 7, at: 3) == 0)
        l.caughtUp(readStartedAt: 4.5)  // 2 counted since the base, 1 read
        #expect(sample(l, 7, at: 5) == 1)
        l.caughtUp(readStartedAt: 7)
        #expect(sample(l, 7, at: 8) == 0)
    }

    @Test func backlogAndKillsBeforeStartAreNeverJudged() {
        let l = KillLedger(margin: 1)
        // Before the follower's first catch-up: the backlog and samples alike are skipped.
        #expect(sample(l, 100, at: 0.5) == 0)
        for _ in 0..<3 { l.recordKill() }
        l.caughtUp(readStartedAt: 10)
        #expect(sample(l, 100, at: 11) == 0)
        l.caughtUp(readStartedAt: 13)
        #expect(sample(l, 100, at: 14) == 0)
        l.caughtUp(readStartedAt: 16)
        #expect(sample(l, 100, at: 17) == 0)
    }

    /// The follower was busy (a storm, a held report): the kills are read seconds after
    /// the counter moved, with no catch-up in between.
    @Test func lateReadKillsAreNotLosses() {
        let l = KillLedger(margin: 1)
        l.caughtUp(readStartedAt: 0)
        #expect(sample(l, 0, at: 1) == 0)
        #expect(sample(l, 6, at: 2) == 0)
        #expect(sample(l, 6, at: 3) == 0)
        for _ in 0..<6 { l.recordKill() }
        l.caughtUp(readStartedAt: 9)
        #expect(sample(l, 6, at: 10) == 0)
        l.caughtUp(readStartedAt: 12)
        #expect(sample(l, 6, at: 13) == 0)
    }

    /// A kill read between a catch-up and the next sample is credited to two windows;
    /// the second window's loss is still found.
    @Test func doubleCreditDoesNotHideALaterLoss() {
        let l = KillLedger(margin: 1)
        l.caughtUp(readStartedAt: 0)
        #expect(sample(l, 0, at: 1) == 0)
        l.caughtUp(readStartedAt: 1.2)
        l.recordKill()  // counter at 1.3, read at 1.4, before the 2.0 sample's catch-up
        #expect(sample(l, 1, at: 2) == 0)
        l.caughtUp(readStartedAt: 3.5)
        #expect(sample(l, 2, at: 4) == 0)  // one more kill, never read
        l.caughtUp(readStartedAt: 5.5)
        #expect(sample(l, 2, at: 6) == 1)
    }

    @Test func followerThatNeverCatchesUpJudgesNothing() {
        let l = KillLedger(margin: 1)
        for i in 0..<5 { #expect(sample(l, Int64(i), at: Double(i)) == 0) }
    }
}
