import ArgumentParser
import Foundation
import MailCore
import MailStore

struct ResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Show where mail to an address goes, and the path that led there (like `postmap -q`).",
        discussion: "Exits 0 when the address has somewhere to go, 1 when it is unknown (SMTP would answer 550 5.1.1)."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The recipient address.") var address: String

    struct JSONResult: Encodable {
        var address: String
        var deliverable: Bool
        var local: [String]
        var external: [String]
        var unresolved: [String]
        var path: [String]
    }

    func run() async throws {
        try await reportingErrors {
            let address = try Parse.address(self.address)
            let context = try await CommandContext.make(global)
            let limits = context.configuration.resolution
            let resolution = try await context.withDirectory { directory in
                try await AddressResolver(directory: directory, limits: limits).resolve(address)
            }
            if output.json {
                try Output.json(JSONResult(address: address.description, deliverable: resolution.isDeliverable,
                                           local: resolution.local.map(\.description),
                                           external: resolution.external.map(\.description),
                                           unresolved: resolution.unresolved, path: resolution.trace.map(\.description)))
            } else {
                for step in resolution.trace { print(step) }
                if resolution.isDeliverable {
                    print("")
                    if !resolution.local.isEmpty { print("local:      \(resolution.local.map(\.description).joined(separator: ", "))") }
                    if !resolution.external.isEmpty { print("external:   \(resolution.external.map(\.description).joined(separator: ", "))") }
                    if !resolution.unresolved.isEmpty { print("unresolved: \(resolution.unresolved.joined(separator: ", "))") }
                }
            }
            guard resolution.isDeliverable else {
                throw CLIError("\(address): unknown address (no account, alias or catch-all delivers it)")
            }
        }
    }
}
