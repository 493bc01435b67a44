import ArgumentParser

/// Options every command that touches the database takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The configuration file (YAML). Also PETREL_CONFIG.", valueName: "path"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp(
        "PostgreSQL URL, e.g. postgres://petrel@127.0.0.1:5432/petrel. Overrides PETREL_DATABASE_URL and the file.",
        valueName: "url"))
    var databaseURL: String?

    @Option(name: .long, help: ArgumentHelp("Home of the embedded cluster. Also PETREL_HOME; default ./.petrel.", valueName: "dir"))
    var home: String?
}

/// `--json` for commands that print data.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false
}
