import MailStore
import Testing

@Suite struct DatabaseURLTests {
    @Test func tcp() throws {
        let url = try DatabaseURL(parsing: "postgres://petrel:s%40cret@db.example:6432/mail?sslmode=require")
        #expect(url.endpoint == .tcp(host: "db.example", port: 6432))
        #expect(url.username == "petrel")
        #expect(url.password == "s@cret")
        #expect(url.database == "mail")
        #expect(url.tls == .require)
        #expect(url.location == "db.example:6432")
        #expect(!url.description.contains("cret"))
    }

    @Test func defaultsAndSockets() throws {
        let plain = try DatabaseURL(parsing: "postgresql://mailer@127.0.0.1")
        #expect(plain.endpoint == .tcp(host: "127.0.0.1", port: 5432))
        #expect(plain.database == "mailer")
        #expect(plain.tls == .disable)
        let socket = try DatabaseURL(parsing: "postgres://petrel@/petrel?host=/var/run/postgresql")
        #expect(socket.endpoint == .unixSocket(directory: "/var/run/postgresql", port: 5432))
        #expect(socket.location == "/var/run/postgresql/.s.PGSQL.5432")
        let v6 = try DatabaseURL(parsing: "postgres://u@[::1]:5433/d")
        #expect(v6.endpoint == .tcp(host: "::1", port: 5433))
    }

    @Test func remoteHostsPreferTLS() throws {
        #expect(try DatabaseURL(parsing: "postgres://u@db.example/d").tls == .prefer)
        #expect(try DatabaseURL(parsing: "postgres://u@localhost/d").tls == .disable)
        #expect(try DatabaseURL(parsing: "postgres://u@db.example/d?sslmode=disable").tls == .disable)
    }

    @Test func errorsNeverEchoTheURL() {
        // A password with an unencoded '/' or a broken escape must not reach the message.
        for text in ["postgres://u:se/cret99@h/d", "postgres://u:pa%zzss@h/d", "postgres://u:x@h:se?cret/d",
                     "postgres://u@h/d?sslmode=secretvalue"] {
            do {
                _ = try DatabaseURL(parsing: text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(!"\(error)".contains("cret") && !"\(error)".contains("pa%zz") && !"\(error)".contains("secretvalue"), "\(error)")
            }
        }
    }

    @Test(arguments: ["mysql://u@h/d", "postgres://u@h:0/d", "postgres://u@h:99999/d", "postgres://u@h:abc/d",
                      "postgres://u@/d", "postgres://u@h/d?sslmode=bogus", "localhost:5432", "postgres://u@h/d?x",
                      "postgres://u@/d?host=/run&sslmode=require"])
    func refuses(_ text: String) {
        #expect(throws: DatabaseURL.Invalid.self) { try DatabaseURL(parsing: text) }
    }
}

@Suite struct SQLScriptTests {
    @Test func splitsAtTopLevelSemicolons() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (x text DEFAULT 'a;b');
            /* block; /* nested; */ still; */
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'x;y'; RETURN NEW; END $$;
            SELECT E'it\\'s;', "we;ird", $tag$ ; $$ ; $tag$, a$b$c, $1, 'x' LIKE'\\';
            SELECT 'it''s;'
            """
        let statements = SQLScript.statements(script)
        #expect(statements.count == 4)
        #expect(statements[0] == "-- a comment; with a semicolon\nCREATE TABLE a (x text DEFAULT 'a;b')")
        #expect(statements[1].hasSuffix("END $$"))
        #expect(statements[2].hasPrefix("SELECT E'it"))
        #expect(statements[3] == "SELECT 'it''s;'")
    }

    @Test func commentsAloneAreNotStatements() {
        #expect(SQLScript.statements("-- nothing\n;;\n/* x */").isEmpty)
    }

    @Test func unterminatedInputEnds() {
        // Hostile or truncated scripts end the scan; they do not hang or crash.
        #expect(SQLScript.statements("SELECT 'open").count == 1)
        #expect(SQLScript.statements("SELECT $a$ open").count == 1)
        #expect(SQLScript.statements("/* open").isEmpty)
    }
}
