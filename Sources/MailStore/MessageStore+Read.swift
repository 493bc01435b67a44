import Foundation
import Logging
import MIME
import NIOCore
import PostgresNIO

/// STATUS items of a mailbox (RFC 3501 §6.3.10, RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE).
public struct MailboxStatus: Sendable, Equatable {
    public var messages: Int64
    public var recent: Int64
    public var unseen: Int64
    public var uidNext: UInt32
    public var uidValidity: UInt32
    public var highestModSeq: Int64
    public var size: Int64
}

/// What FETCH needs about one message, all from the parse stored at delivery.
public struct MessageSummary: Sendable {
    public var uid: UInt32
    public var flags: MessageFlags
    public var keywords: [String]
    public var modseq: Int64
    public var internalDate: Date
    /// Total size: `headerPrefix` and the stored body.
    public var size: Int64
    /// Trace lines of this copy (Return-Path:, Delivered-To:) served in front of the stored
    /// body: the body's part offsets shift by its length.
    public var headerPrefix: [UInt8]
    public var envelope: [UInt8]
    public var bodyStructure: [UInt8]
    public var body: [UInt8]
    public var structure: MessageStructure
}

/// Flag and expunge changes since a modseq (CONDSTORE / QRESYNC, and sessions catching up).
public struct MailboxChanges: Sendable, Equatable {
    public var changed: [MessageFlagState]
    public var expunged: [UInt32]
    public var highestModSeq: Int64
}

extension MessageStore {
    public func status(accountID: Int64, mailboxID: Int64) async throws -> MailboxStatus {
        let rows = try await database.query("""
            SELECT m.message_count, (SELECT count(*) FROM messages x WHERE x.account_id = m.account_id
                                     AND x.mailbox_id = m.id AND x.uid >= m.first_recent_uid),
                   m.unseen_count, m.uidnext, m.uidvalidity, m.highestmodseq, m.total_size
            FROM mailboxes m WHERE m.account_id = \(accountID) AND m.id = \(mailboxID)
            """)
        for try await (messages, recent, unseen, next, validity, modseq, size)
            in rows.decode((Int64, Int64, Int64, Int64, Int64, Int64, Int64).self) {
            return MailboxStatus(messages: messages, recent: recent, unseen: unseen,
                                 uidNext: UInt32(truncatingIfNeeded: min(next, Int64(UInt32.max))),
                                 uidValidity: UInt32(truncatingIfNeeded: validity), highestModSeq: modseq, size: size)
        }
        throw StoreError(.notFound, "mailbox does not exist")
    }

    /// A read-write SELECT takes the mailbox's \Recent messages (RFC 3501 §2.3.2: one session
    /// sees them as recent). Returns the UIDs that are recent for this session.
    public func claimRecent(accountID: Int64, mailboxID: Int64) async throws -> ClosedRange<UInt32>? {
        let rows = try await database.query("""
            UPDATE mailboxes n SET first_recent_uid = n.uidnext FROM mailboxes o
            WHERE n.account_id = \(accountID) AND n.id = \(mailboxID) AND o.account_id = n.account_id AND o.id = n.id
            RETURNING o.first_recent_uid, n.uidnext
            """)
        for try await (first, next) in rows.decode((Int64, Int64).self) where first < next {
            return UInt32(truncatingIfNeeded: first)...UInt32(truncatingIfNeeded: next - 1)
        }
        return nil
    }

    /// Every message's UID and size, ascending (a POP3 maildrop).
    public func sizes(accountID: Int64, mailboxID: Int64) async throws -> [(uid: UInt32, size: Int64)] {
        let rows = try await database.query("""
            SELECT uid, size FROM messages WHERE account_id = \(accountID) AND mailbox_id = \(mailboxID) ORDER BY uid
            """)
        var out: [(uid: UInt32, size: Int64)] = []
        for try await (uid, size) in rows.decode((Int64, Int64).self) { out.append((UInt32(truncatingIfNeeded: uid), size)) }
        return out
    }

    /// The lowest UID without \Seen (SELECT's `[UNSEEN n]`), nil when every message is seen.
    public func firstUnseen(accountID: Int64, mailboxID: Int64) async throws -> UInt32? {
        let rows = try await database.query("""
            SELECT min(uid) FROM messages
            WHERE account_id = \(accountID) AND mailbox_id = \(mailboxID) AND flags & 1 = 0
            """)
        for try await uid in rows.decode(Int64?.self) { return uid.map { UInt32(truncatingIfNeeded: $0) } }
        return nil
    }

    /// All UIDs in ascending order: the sequence-number map of a selected mailbox.
    public func uids(accountID: Int64, mailboxID: Int64) async throws -> [UInt32] {
        let rows = try await database.query("""
            SELECT uid FROM messages WHERE account_id = \(accountID) AND mailbox_id = \(mailboxID) ORDER BY uid
            """)
        var out: [UInt32] = []
        for try await uid in rows.decode(Int64.self) { out.append(UInt32(truncatingIfNeeded: uid)) }
        return out
    }

    /// Flags, keywords and modseq of the messages in `uids`, ascending, streamed from the rows.
    public func flagStates(accountID: Int64, mailboxID: Int64, uids: UIDSet = .all) async throws -> [MessageFlagState] {
        let rows = try await database.query("""
            SELECT uid, flags, keywords, modseq FROM messages
            WHERE account_id = \(accountID) AND mailbox_id = \(mailboxID)
              AND uid BETWEEN \(uids.lowest) AND \(uids.highest) AND uid <@ (SELECT \(uids.multirange)::int8multirange)
            ORDER BY uid
            """)
        var out: [MessageFlagState] = []
        for try await (uid, flags, keywords, modseq) in rows.decode((Int64, Int16, [String], Int64).self) {
            out.append(MessageFlagState(uid: UInt32(truncatingIfNeeded: uid), flags: MessageFlags(rawValue: flags),
                                        keywords: keywords, modseq: modseq))
        }
        return out
    }

    /// Envelope, structure, flags, dates and sizes of the messages in `uids`.
    public func summaries(accountID: Int64, mailboxID: Int64, uids: UIDSet) async throws -> [MessageSummary] {
        let rows = try await database.query("""
            SELECT m.uid, m.flags, m.keywords, m.modseq, m.internal_date, m.size, m.header_prefix,
                   b.envelope, b.body_structure, b.body, b.structure::text
            FROM messages m JOIN message_bodies b ON b.id = m.body_id
            WHERE m.account_id = \(accountID) AND m.mailbox_id = \(mailboxID)
              AND m.uid BETWEEN \(uids.lowest) AND \(uids.highest) AND m.uid <@ (SELECT \(uids.multirange)::int8multirange)
            ORDER BY m.uid
            """)
        var out: [MessageSummary] = []
        for try await (uid, flags, keywords, modseq, date, size, prefix, envelope, bodyStructure, body, structure)
            in rows.decode((Int64, Int16, [String], Int64, Date, Int64, ByteBuffer, ByteBuffer, ByteBuffer, ByteBuffer, String).self) {
            let parts = try JSONDecoder().decode(MessageStructure.self, from: Data(structure.utf8))
            out.append(MessageSummary(uid: UInt32(truncatingIfNeeded: uid), flags: MessageFlags(rawValue: flags), keywords: keywords,
                                      modseq: modseq, internalDate: date, size: size,
                                      headerPrefix: Array(buffer: prefix), envelope: Array(buffer: envelope),
                                      bodyStructure: Array(buffer: bodyStructure), body: Array(buffer: body), structure: parts))
        }
        return out
    }

    /// Bytes `range` of a message (all of it when nil), read in chunks of `chunkSize` so that a
    /// large message never sits in memory whole. Each chunk is one indexed read of the TOAST
    /// slices it covers (the raw column is stored uncompressed for this).
    public func content(accountID: Int64, mailboxID: Int64, uid: UInt32, range: Range<Int>? = nil,
                        chunkSize: Int = 256 * 1024) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let (size, prefix) = try await self.sizeAndPrefix(accountID: accountID, mailboxID: mailboxID, uid: uid)
                    let wanted = (range ?? 0..<size).clamped(to: 0..<size)
                    var offset = wanted.lowerBound
                    // The copy's own trace lines first, then the shared body.
                    if offset < prefix.readableBytes {
                        let end = min(prefix.readableBytes, wanted.upperBound)
                        continuation.yield(prefix.getSlice(at: prefix.readerIndex + offset, length: end - offset)!)
                        offset = end
                    }
                    while offset < wanted.upperBound {
                        let length = min(chunkSize, wanted.upperBound - offset)
                        let rawOffset = offset - prefix.readableBytes
                        let rows = try await database.query("""
                            SELECT substring(b.raw FROM \(Int64(rawOffset + 1))::int FOR \(Int64(length))::int)
                            FROM messages m JOIN message_bodies b ON b.id = m.body_id
                            WHERE m.account_id = \(accountID) AND m.mailbox_id = \(mailboxID) AND m.uid = \(Int64(uid))
                            """)
                        var got = false
                        for try await chunk in rows.decode(ByteBuffer.self) {
                            got = true
                            continuation.yield(chunk)
                        }
                        if !got { throw StoreError(.notFound, "message was expunged") }
                        offset += length
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Collects `content` into memory (for sections, which are small, and for tests).
    public func contentBytes(accountID: Int64, mailboxID: Int64, uid: UInt32, range: Range<Int>? = nil) async throws -> [UInt8] {
        var out: [UInt8] = []
        for try await chunk in content(accountID: accountID, mailboxID: mailboxID, uid: uid, range: range) {
            out.append(contentsOf: chunk.readableBytesView)
        }
        return out
    }

    func sizeAndPrefix(accountID: Int64, mailboxID: Int64, uid: UInt32) async throws -> (Int, ByteBuffer) {
        let rows = try await database.query("""
            SELECT size, header_prefix FROM messages
            WHERE account_id = \(accountID) AND mailbox_id = \(mailboxID) AND uid = \(Int64(uid))
            """)
        for try await (size, prefix) in rows.decode((Int64, ByteBuffer).self) { return (Int(size), prefix) }
        throw StoreError(.notFound, "no message with UID \(uid)")
    }

    /// Messages whose flags changed, and UIDs expunged, after `modseq`.
    public func changes(accountID: Int64, mailboxID: Int64, since modseq: Int64) async throws -> MailboxChanges {
        let status = try await status(accountID: accountID, mailboxID: mailboxID)
        let changedRows = try await database.query("""
            SELECT uid, flags, keywords, modseq FROM messages
            WHERE account_id = \(accountID) AND mailbox_id = \(mailboxID) AND modseq > \(modseq) ORDER BY uid
            """)
        var changed: [MessageFlagState] = []
        for try await (uid, flags, keywords, rowModseq) in changedRows.decode((Int64, Int16, [String], Int64).self) {
            changed.append(MessageFlagState(uid: UInt32(truncatingIfNeeded: uid), flags: MessageFlags(rawValue: flags),
                                            keywords: keywords, modseq: rowModseq))
        }
        let expungedRows = try await database.query("""
            SELECT uid FROM expunged_messages
            WHERE account_id = \(accountID) AND mailbox_id = \(mailboxID) AND modseq > \(modseq) ORDER BY uid
            """)
        var expunged: [UInt32] = []
        for try await uid in expungedRows.decode(Int64.self) { expunged.append(UInt32(truncatingIfNeeded: uid)) }
        return MailboxChanges(changed: changed, expunged: expunged, highestModSeq: status.highestModSeq)
    }
}
