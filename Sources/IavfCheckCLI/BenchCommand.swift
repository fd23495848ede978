import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures (build with -c release for meaningful numbers).",
        subcommands: [ReplayBenchCommand.self, PipelineBenchCommand.self, DownUpBenchCommand.self, DownUpGuestCommand.self]
    )
}
