import Foundation
import Logging
import MailCore
import MailStore
import PetrelTestSupport
import Testing

/// `petrel quota show` reports what the store holds, for an account and for a whole domain.
@Suite struct CLIQuotaTests {
    struct Row: Decodable { var address: String; var usedBytes, quotaBytes, usedMessages, quotaMessages: Int64 }

    @Test func quotaShowReportsRealUsage() async throws {
        try await TestDatabase.withEmpty { url in
            let env = ["PETREL_DATABASE_URL": PetrelProcess.urlString(url)]
            func petrel(_ args: String...) throws -> PetrelProcess.Result { try PetrelProcess.run(args, environment: env) }
            #expect(try petrel("migrate").status == 0)
            #expect(try petrel("domain", "add", "baidu.com").status == 0)
            #expect(try petrel("user", "add", "maomao@baidu.com", "--password-hash", "{PLAIN}x").status == 0)
            var r = try petrel("quota", "set", "baidu.com", "--messages", "10")
            #expect(r.status == 0 && r.stdout.contains("quota set for domain baidu.com"), "\(r)")

            // Deliver two messages through the store, as the SMTP server will.
            let message = PreparedMessage(raw: Array("Subject: hi\r\n\r\nhello\r\n".utf8))
            try await Database.withDatabase(url, logger: Logger(label: "test")) { database in
                let account = try await Directory(database: database).account(EmailAddress("maomao@baidu.com")).id
                let inbox = try await MailboxStore(database: database).mailbox(accountID: account, name: MailboxName("INBOX")).id
                for _ in 0..<2 {
                    _ = try await MessageStore(database: database).append(accountID: account, mailboxID: inbox, message: message)
                }
            }
            r = try petrel("quota", "show", "baidu.com", "--json")
            let rows = try JSONDecoder().decode([Row].self, from: Data(r.stdout.utf8))
            let account = try #require(rows.first { $0.address == "maomao@baidu.com" })
            #expect(account.usedMessages == 2 && account.usedBytes == Int64(message.size * 2), "\(r)")
            let domain = try #require(rows.first { $0.address.contains("domain") })
            #expect(domain.usedMessages == 2 && domain.quotaMessages == 10)
            r = try petrel("quota", "show", "maomao@baidu.com")
            #expect(r.status == 0 && r.stdout.contains("maomao@baidu.com"), "\(r)")
        }
    }
}
