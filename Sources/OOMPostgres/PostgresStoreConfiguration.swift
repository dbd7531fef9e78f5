/// Where and how the collector reaches its PostgreSQL database. Filled in by the
/// executable from `--db postgres://…` (and the password file or `PGPASSWORD`); the
/// password never appears in `description`.
public struct PostgresStoreConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// libpq's `sslmode` values, with libpq's meaning.
    public enum SSLMode: String, Sendable, Equatable, CaseIterable {
        /// Plain TCP (a loopback or unix socket server).
        case disable
        /// TLS when the server offers it, certificate not verified.
        case prefer
        /// TLS required, certificate not verified (libpq's `require`).
        case require
        /// TLS required, certificate verified against the CA; the host name is not checked.
        case verifyCA = "verify-ca"
        /// TLS required, certificate and host name verified: the default.
        case verifyFull = "verify-full"
    }

    /// Server host name or address; ignored when `unixSocketPath` is set.
    public var host: String
    public var port: Int = 5432
    /// A unix socket (such as `/run/postgresql/.s.PGSQL.5432`) instead of TCP.
    public var unixSocketPath: String?
    public var user: String
    public var database: String
    public var password: String?
    public var sslMode: SSLMode = .verifyFull
    /// PEM file of the CA that signs the server's certificate (`sslrootcert`); the
    /// system's trust store when nil.
    public var sslRootCertificate: String?
    /// Connections this collector opens at most.
    public var poolSize: Int = 16
    /// Connect timeout, seconds.
    public var connectTimeoutSeconds: Double = 10

    public init(host: String, port: Int = 5432, user: String, database: String, password: String? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.password = password
    }

    /// The server and database, without the password (safe to log).
    public var description: String {
        let place = unixSocketPath ?? "\(host):\(port)"
        return "postgres://\(user)@\(place)/\(database)?sslmode=\(sslMode.rawValue)"
    }
}
