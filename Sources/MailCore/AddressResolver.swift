/// Resolves a recipient to its final destinations, the heart of virtual domains.
///
/// Order for one address, the sane PostfixAdmin reading of Postfix's `virtual(5)`:
/// 1. an exact alias (`user+tag@d`, then `user@d`) — aliases win over accounts, so an alias
///    that lists its own address keeps a copy in that account and forwards the rest;
/// 2. an account with that address (again with, then without the subaddress tag);
/// 3. the domain-alias rewrite: `x@group.com` is `x@baidu.com` when group.com is an alias of
///    baidu.com (the rewritten address is resolved again from step 1);
/// 4. the catch-all alias `@domain`;
/// 5. a local domain with no match: unknown. A domain that is not ours: external.
///
/// Alias targets expand recursively. An address that appears again on its own expansion path
/// ends expansion there (a loop, or an alias naming itself) and is delivered as it stands, to
/// its account if it has one. Depth and total fan-out are bounded by ``ResolutionLimits``.
public struct AddressResolver<Directory: RecipientDirectory>: Sendable {
    public let directory: Directory
    public let limits: ResolutionLimits

    public init(directory: Directory, limits: ResolutionLimits = .default) {
        self.directory = directory
        self.limits = limits
    }

    public func resolve(_ address: EmailAddress) async throws -> Resolution {
        var state = State()
        try await expand(address, path: [address], allowAlias: true, state: &state)
        return state.result
    }

    struct State {
        var result = Resolution()
        var targetsVisited = 0
    }

    private func expand(_ address: EmailAddress, path: [EmailAddress], allowAlias: Bool, state: inout State) async throws {
        let depth = path.count - 1
        guard depth <= limits.maximumDepth else {
            throw ResolutionError.tooDeep(limit: limits.maximumDepth, path: path.map(\.description))
        }
        let base = address.withoutSubaddress(delimiters: limits.subaddressDelimiters)

        // 1. Exact alias, with then without the subaddress tag.
        if allowAlias {
            for candidate in [address, base].compactMap({ $0 }) {
                if let targets = try await directory.aliasTargets(.address(candidate)) {
                    if candidate != address {
                        state.result.trace.append(.init(depth: depth, address: address.description, rule: .subaddress(base: candidate)))
                    }
                    state.result.trace.append(.init(depth: depth, address: candidate.description, rule: .alias(targets: targets)))
                    try await expandTargets(targets, of: candidate, path: path, state: &state)
                    return
                }
            }
        }

        switch try await directory.domainRole(address.domain) {
        case nil:
            state.result.trace.append(.init(depth: depth, address: address.description, rule: .external))
            appendOnce(address, to: &state.result.external)

        case .alias(let target):
            // 3. Domain alias: resolve the same local part (tag kept) in the target domain.
            state.result.trace.append(.init(depth: depth, address: address.description, rule: .domainAlias(from: address.domain, to: target)))
            let rewritten = address.inDomain(target)
            if path.contains(rewritten) {
                // Back on our own path: deliver it as it stands, as for any loop.
                state.result.trace.append(.init(depth: depth + 1, address: rewritten.description, rule: .loop))
                try await expand(rewritten, path: path + [rewritten], allowAlias: false, state: &state)
                return
            }
            try await expand(rewritten, path: path + [rewritten], allowAlias: true, state: &state)

        case .inactive:
            state.result.trace.append(.init(depth: depth, address: address.description, rule: .unknown))
            if depth > 0 { appendOnce(address.description, to: &state.result.unresolved) }

        case .local:
            // 2. Account, with then without the tag.
            for candidate in [address, base].compactMap({ $0 }) where try await directory.isActiveAccount(candidate) {
                if candidate != address {
                    state.result.trace.append(.init(depth: depth, address: address.description, rule: .subaddress(base: candidate)))
                }
                state.result.trace.append(.init(depth: depth, address: candidate.description, rule: .account))
                appendOnce(candidate, to: &state.result.local)
                return
            }
            // 4. Catch-all.
            if allowAlias, let targets = try await directory.aliasTargets(.catchAll(address.domain)) {
                state.result.trace.append(.init(depth: depth, address: address.description, rule: .catchAll(domain: address.domain, targets: targets)))
                try await expandTargets(targets, of: address, path: path, state: &state)
                return
            }
            // 5. Nothing matched in a local domain.
            state.result.trace.append(.init(depth: depth, address: address.description, rule: .unknown))
            if depth > 0 { appendOnce(address.description, to: &state.result.unresolved) }
        }
    }

    /// Expands the stored targets of an alias whose own address is `source`.
    private func expandTargets(_ targets: [String], of source: EmailAddress, path: [EmailAddress],
                               state: inout State) async throws {
        let depth = path.count
        for raw in targets {
            state.targetsVisited += 1
            guard state.targetsVisited <= limits.maximumTargets else {
                throw ResolutionError.tooManyTargets(limit: limits.maximumTargets)
            }
            // A target without '@' is that local part in the alias's own domain (Postfix virtual(5)).
            let text = raw.contains("@") ? raw : "\(raw)@\(source.domain.ascii)"
            guard let target = try? EmailAddress(text) else {
                state.result.trace.append(.init(depth: depth, address: raw, rule: .invalidTarget))
                appendOnce(raw, to: &state.result.unresolved)
                continue
            }
            if target == source || path.contains(target) {
                let rule: Resolution.Rule = target == source ? .keptCopy : .loop
                state.result.trace.append(.init(depth: depth, address: target.description, rule: rule))
                // Deliver it as it stands, without consulting aliases again.
                try await expand(target, path: path + [target], allowAlias: false, state: &state)
                continue
            }
            try await expand(target, path: path + [target], allowAlias: true, state: &state)
        }
    }

    private func appendOnce<T: Equatable>(_ value: T, to list: inout [T]) {
        if !list.contains(value) { list.append(value) }
    }
}
