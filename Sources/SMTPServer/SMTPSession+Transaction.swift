import Foundation
import MIME
import MailStore

extension SMTPSession {
    func mail(_ path: SMTPPath, _ parameters: MailParameters) async {
        guard heloName != nil else { return reply(.badSequenceHelo) }
        guard transaction == nil else { return reply(.nestedMail) }
        if role == .submission && login == nil {
            return reply(startTLSAvailable && !plaintextAuthAllowed ? .tlsRequired : .authRequired)
        }
        if let size = parameters.size, size > configuration.maximumMessageSize {
            return reply(SMTPReply(552, "5.3.4", "Error: message size exceeds fixed limit"))
        }
        var senderText = ""
        if case .mailbox(let mailbox) = path {
            if !mailbox.isASCII && !parameters.smtputf8 { return reply(.utf8Required) }
            senderText = mailbox.description
        } else if case .postmaster = path {
            return reply(SMTPReply(501, "5.1.7", "Syntax: MAIL FROM:<address>"))
        }
        var transaction = Transaction(sender: path, parameters: parameters)
        do {
            let rules = try await backend.mailAccess(clientIP: clientRule == nil ? connection.remoteIP : nil,
                                                     sender: senderText.isEmpty ? nil : senderText)
            if clientRule == nil { clientRule = .some(rules.client) }
            if let rule = clientRule ?? nil, rule.action == .reject {
                return reply(SMTPReply(554, "5.7.1", "Client host rejected: " + (rule.reply.isEmpty ? "Access denied" : rule.reply)))
            }
            if let rule = rules.sender {
                if rule.action == .reject {
                    return reply(SMTPReply(554, "5.7.1", "<\(senderText)>: Sender address rejected: "
                                           + (rule.reply.isEmpty ? "Access denied" : rule.reply)))
                }
                transaction.senderRuleOK = true
            }
            if let login, case .mailbox(let mailbox) = path, try await !backend.owns(login, sender: mailbox) {
                return reply(SMTPReply(553, "5.7.1", "<\(senderText)>: Sender address rejected: not owned by user \(login.address)"))
            }
        } catch {
            logger.error("lookup failed at MAIL", metadata: ["error": "\(error)"])
            return reply(.temporaryLookup)
        }
        self.transaction = transaction
        reply(SMTPReply(250, "2.1.0", "Ok"))
    }

    func rcpt(_ path: SMTPPath) async {
        guard heloName != nil else { return reply(.badSequenceHelo) }
        guard var transaction else { return reply(.badSequenceMail) }
        guard transaction.recipients.count < configuration.maximumRecipients else {
            // Not counted as an error: a client that sends many is not misbehaving (RFC 5321 §4.5.3.1.10).
            return reply(.tooManyRecipients, countsAsError: false)
        }
        let mailbox: SMTPMailbox
        switch path {
        case .null: return reply(SMTPReply(501, "5.1.3", "Syntax: RCPT TO:<address>"))
        case .postmaster:
            guard case .mailbox(let m)? = try? SMTPCommandParser.parsePath("<\(configuration.postmaster)>", allowNull: false, usage: "") else {
                return reply(SMTPReply(550, "5.1.1", "<postmaster>: no postmaster configured"))
            }
            mailbox = m
        case .mailbox(let m): mailbox = m
        }
        if !mailbox.isASCII && !transaction.parameters.smtputf8 { return reply(.utf8Required) }
        let address = mailbox.description
        do {
            var relayAllowed = login != nil || configuration.trustedNetworks.contains { $0.contains(connection.remoteIP) }
            if let rule = clientRule ?? nil, rule.action == .ok { relayAllowed = true }
            let (rule, route) = try await backend.recipient(mailbox)
            if let rule {
                if rule.action == .reject {
                    return reply(SMTPReply(554, "5.7.1", "<\(address)>: Recipient address rejected: "
                                           + (rule.reply.isEmpty ? "Access denied" : rule.reply)))
                }
                relayAllowed = true
            }
            if mailbox.hasSenderRouting && route != .remote {
                return reply(SMTPReply(550, "5.7.1", "<\(address)>: Recipient address rejected: sender-specified routing is not allowed"))
            }
            switch route {
            case .remote:
                guard relayAllowed else { return reply(SMTPReply(554, "5.7.1", "<\(address)>: Relay access denied")) }
                transaction.recipients.append(Recipient(address: address, accounts: [], remote: [address]))
            case .unknown:
                return reply(SMTPReply(550, "5.1.1", "<\(address)>: Recipient address rejected: User unknown"))
            case .expansionFailed(let why):
                logger.warning("alias expansion failed", metadata: ["recipient": "\(address)", "error": "\(why)"])
                return reply(SMTPReply(550, "5.4.6", "<\(address)>: Recipient address rejected: alias expansion failed"))
            case .local(let accounts, let external):
                for account in accounts where !account.fits(size: 0) {
                    return reply(SMTPReply(452, "4.2.2", "<\(address)>: Recipient address rejected: Mailbox full"))
                }
                if let size = transaction.parameters.size, accounts.contains(where: { !$0.fits(size: size) }) {
                    return reply(SMTPReply(552, "5.2.2", "<\(address)>: Recipient address rejected: message exceeds mailbox quota"))
                }
                transaction.recipients.append(Recipient(address: address, accounts: accounts, remote: external))
            }
        } catch {
            logger.error("lookup failed at RCPT", metadata: ["recipient": "\(address)", "error": "\(error)"])
            return reply(.temporaryLookup)
        }
        self.transaction = transaction
        reply(SMTPReply(250, "2.1.5", "Ok"))
    }

    func data() async -> Next {
        guard heloName != nil else { reply(.badSequenceHelo); return .goOn }
        guard let transaction else { reply(.badSequenceMail); return .goOn }
        guard transaction.chunks == nil else { reply(SMTPReply(503, "5.5.1", "Error: DATA after BDAT")); return .goOn }
        guard !transaction.recipients.isEmpty else { reply(SMTPReply(554, "5.5.1", "Error: no valid recipients")); return .goOn }
        connection.send(SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>").rendered)
        await connection.flush()
        var decoder = DataDecoder(limit: configuration.maximumMessageSize)
        let complete = await connection.withDeadline(configuration.dataTimeout) {
            while await connection.waitForInput() {
                let (consumed, finished) = decoder.feed(connection.bufferedBytes)
                connection.consume(consumed)
                if finished { return true }
            }
            return false
        }
        guard complete else {
            logger.notice("lost connection or timed out during DATA: nothing stored")
            return .close
        }
        if decoder.overflowed {
            self.transaction = nil
            reply(.messageTooBig)
            return .goOn
        }
        await deliver(body: decoder.body, transaction)
        return .goOn
    }

    /// RFC 3030: the chunk is read in full whatever the reply, so the byte stream stays in step.
    func bdat(size: Int, last: Bool) async -> Next {
        var remaining = size
        var chunk: [UInt8] = []
        let room = configuration.maximumMessageSize - (transaction?.chunks?.count ?? 0)
        var overflowed = size > room
        if !overflowed { chunk.reserveCapacity(size) }
        let complete = await connection.withDeadline(configuration.dataTimeout) {
            while remaining > 0 {
                guard await connection.waitForInput() else { return false }
                let view = connection.bufferedBytes
                let take = min(remaining, view.count)
                if !overflowed { chunk.append(contentsOf: view.prefix(take)) }
                connection.consume(take)
                remaining -= take
            }
            return true
        }
        guard complete else {
            logger.notice("lost connection or timed out during BDAT: nothing stored")
            return .close
        }
        guard heloName != nil else { reply(.badSequenceHelo); return .goOn }
        guard var transaction else { reply(.badSequenceMail); return .goOn }
        guard !transaction.recipients.isEmpty else {
            reply(SMTPReply(554, "5.5.1", "Error: no valid recipients"))
            return .goOn
        }
        if transaction.chunksOverflowed { overflowed = true }
        transaction.chunksOverflowed = overflowed
        if overflowed {
            transaction.chunks = []
        } else {
            transaction.chunks = (transaction.chunks ?? []) + chunk
        }
        guard last else {
            self.transaction = transaction
            reply(SMTPReply(250, "2.0.0", "Ok: \(size) octets received"))
            return .goOn
        }
        if overflowed {
            self.transaction = nil
            reply(.messageTooBig)
            return .goOn
        }
        await deliver(body: transaction.chunks ?? [], transaction)
        return .goOn
    }

    /// Stores and queues the message in one transaction, then answers: `250` only after COMMIT.
    func deliver(body: [UInt8], _ transaction: Transaction) async {
        self.transaction = nil
        let queueID = QueueID.make()
        var log = logger
        log[metadataKey: "queue_id"] = "\(queueID)"
        let sender: String
        if case .mailbox(let m) = transaction.sender { sender = m.description } else { sender = "" }
        let hops = TraceHeaders.hopCount(body)
        if hops >= TraceHeaders.maximumHops {
            // RFC 5321 §6.3: a loop; refused rather than passed on once more.
            log.notice("refused: too many hops", metadata: ["from": "<\(sender)>", "received_fields": "\(hops)"])
            return reply(SMTPReply(554, "5.4.6", "Error: too many hops (\(hops) Received fields): a mail loop"))
        }
        var tlsVersion = await connection.tlsVersion()
        if let version = tlsVersion, let cipher = await connection.tlsCipher() { tlsVersion = "\(version) with cipher \(cipher)" }
        let received = TraceHeaders.received(
            heloName: heloName ?? "unknown", clientIP: connection.remoteIP, hostname: configuration.hostname,
            protocolName: TraceHeaders.protocolName(esmtp: esmtp, tls: connection.isTLS, authenticated: login != nil,
                                                    smtputf8: transaction.parameters.smtputf8),
            tls: tlsVersion, queueID: queueID,
            singleRecipient: transaction.recipients.count == 1 ? transaction.recipients[0].address : nil, date: Date())
        let prepared = PreparedMessage(raw: Array(received.utf8) + body)
        let returnPath = TraceHeaders.returnPath(sender)
        var local: [LocalCopy] = []
        var remote: [String] = []
        for recipient in transaction.recipients {
            for account in recipient.accounts {
                let prefix = returnPath + TraceHeaders.deliveredTo(account.address)
                local.append(LocalCopy(target: DeliveryTarget(accountID: account.accountID, mailboxID: account.inboxID),
                                       headerPrefix: Array(prefix.utf8), recipient: recipient.address))
            }
            remote.append(contentsOf: recipient.remote)
        }
        let inbound = InboundMessage(queueID: queueID, sender: sender, message: prepared, local: local, remote: remote,
                                     client: "\(heloName ?? "unknown") [\(connection.remoteIP)]", accountID: login?.accountID,
                                     smtputf8: transaction.parameters.smtputf8, body8bit: transaction.parameters.body8bit)
        do {
            let stored = try await backend.accept(inbound)
            log.info("accepted", metadata: ["from": "<\(sender)>", "recipients": "\(transaction.recipients.count)",
                                            "size": "\(prepared.size)", "stored": "\(stored.count)", "queued": "\(Set(remote).count)"])
            reply(SMTPReply(250, "2.0.0", "Ok: queued as \(queueID)"))
        } catch let error as StoreError where error.kind == .overQuota {
            log.notice("refused: over quota", metadata: ["error": "\(error)"])
            reply(SMTPReply(452, "4.2.2", "\(error.message)"))
        } catch {
            log.error("not stored", metadata: ["error": "\(error)"])
            reply(SMTPReply(451, "4.3.0", "Error: queue file write error, try again later"))
        }
    }
}
