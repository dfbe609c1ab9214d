import Foundation
import Testing
import TestSupport

/// Docs/cli.md, the command reference, names every subcommand of the binary and, in that
/// subcommand's section, every one of its flags (read from argument-parser's own description of
/// the binary, `--experimental-dump-help`, so a new flag without documentation turns this red).
@Suite struct CommandReferenceTests {
    struct Command: Decodable {
        struct Argument: Decodable {
            struct Name: Decodable { let kind: String; let name: String }
            let names: [Name]?
        }
        let commandName: String
        let arguments: [Argument]?
        let subcommands: [Command]?
    }
    struct Dump: Decodable { let command: Command }

    @Test func everySubcommandAndFlagIsDocumented() throws {
        let r = try CLITests.run(["--experimental-dump-help"])
        #expect(r.status == 0, "\(r.stderr)")
        let root = try JSONDecoder().decode(Dump.self, from: Data(r.stdout.utf8)).command
        let reference = try String(contentsOf: repositoryDirectory.appendingPathComponent("Docs/cli.md"), encoding: .utf8)
        let subcommands = (root.subcommands ?? []).filter { $0.commandName != "help" }
        #expect(subcommands.count >= 10)
        for command in subcommands {
            let heading = "## `glassbox \(command.commandName)`"
            guard let start = reference.range(of: heading) else { Issue.record("Docs/cli.md has no section \(heading)"); continue }
            let rest = reference[start.upperBound...]
            let section = rest.range(of: "\n## ").map { rest[..<$0.lowerBound] } ?? rest
            let names: [Command.Argument.Name] = (command.arguments ?? []).flatMap { $0.names ?? [] }
            let flags: [String] = names.filter { $0.kind == "long" && $0.name != "help" && $0.name != "version" }.map(\.name)
            #expect(!flags.isEmpty || command.commandName == "help")
            for flag in flags {
                #expect(section.contains("`--\(flag)"), "Docs/cli.md: section \(heading) does not mention --\(flag)")
            }
        }
        #expect(reference.contains("`--help`, `--version`"))
    }
}
