/// The upload interval an agent follows: its own, or the longer one its collector asked
/// for in an ingest answer (`upload_interval_s`) to keep a large fleet's posts within
/// what the collector takes. Never more than `maxAsked`: a collector cannot silence an
/// agent (and a kill is uploaded at once in any case).
public enum UploadPace {
    /// The longest pace an agent follows, in seconds.
    public static let maxAsked = 600.0

    public static func follow(own: Double, asked: Double?) -> Double {
        guard let asked, asked.isFinite, asked > own else { return own }
        return min(asked, max(own, maxAsked))
    }
}
