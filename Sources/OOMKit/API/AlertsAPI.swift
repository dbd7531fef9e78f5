// Response shapes of the collector's alert endpoints, shared by the collector and the CLI.

/// `GET /api/v1/alerts`: the newest notifications and each receiver's delivery state.
public struct AlertsResponse: Codable, Sendable, Equatable {
    public var receivers: [AlertReceiverState]
    public var notifications: [AlertNotification]

    public init(receivers: [AlertReceiverState], notifications: [AlertNotification]) {
        self.receivers = receivers
        self.notifications = notifications
    }
}

/// One receiver's totals.
public struct AlertReceiverState: Codable, Sendable, Equatable {
    public var receiver: String
    public var sent: Int
    /// Not tried yet (inside a grouping window, or waiting behind the rate limit).
    public var pending: Int
    /// Tried and not yet accepted; retried with backoff.
    public var failing: Int
    /// The newest error of a row still unsent.
    public var lastError: String?
    public var lastSent: String?

    public init(
        receiver: String, sent: Int, pending: Int, failing: Int, lastError: String?,
        lastSent: String?
    ) {
        self.receiver = receiver
        self.sent = sent
        self.pending = pending
        self.failing = failing
        self.lastError = lastError
        self.lastSent = lastSent
    }

    enum CodingKeys: String, CodingKey {
        case receiver, sent, pending, failing
        case lastError = "last_error"
        case lastSent = "last_sent"
    }
}

/// One outbox row: one kill (or test message) for one receiver.
public struct AlertNotification: Codable, Sendable, Equatable {
    public var id: Int64
    /// `kill` or `test`.
    public var kind: String
    public var receiver: String
    /// `sent`, `pending` or `failing`.
    public var state: String
    public var host: String
    public var eventID: String
    public var comm: String
    public var created: String
    public var sentAt: String?
    public var attempts: Int
    public var nextAttempt: String?
    public var lastError: String?
    public var idempotencyKey: String?

    public init(
        id: Int64, kind: String, receiver: String, state: String, host: String, eventID: String,
        comm: String, created: String, attempts: Int
    ) {
        self.id = id
        self.kind = kind
        self.receiver = receiver
        self.state = state
        self.host = host
        self.eventID = eventID
        self.comm = comm
        self.created = created
        self.attempts = attempts
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, receiver, state, host, comm, created, attempts
        case eventID = "event_id"
        case sentAt = "sent_at"
        case nextAttempt = "next_attempt"
        case lastError = "last_error"
        case idempotencyKey = "idempotency_key"
    }
}

/// `POST /api/v1/alerts/test` body.
public struct AlertTestRequest: Codable, Sendable, Equatable {
    public var receiver: String
    public init(receiver: String) { self.receiver = receiver }
}

/// `POST /api/v1/alerts/test` answer: the queued notification's id.
public struct AlertTestResponse: Codable, Sendable, Equatable {
    public var id: Int64
    public var receiver: String
    public init(id: Int64, receiver: String) {
        self.id = id
        self.receiver = receiver
    }
}
