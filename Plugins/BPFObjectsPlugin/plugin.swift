// Build-tool plugin: compiles bpf/*.bpf.c with `clang -target bpf` and embeds
// the objects into the target as Swift source, so `swift build` alone yields a
// single self-contained binary (no files to install next to it).
// With each object come typed names of its programs, maps and globals
// (`BPFNames.<name>.Program/.Map/.Global`, read from the ELF symbol table), so
// Swift code that names one the BPF source no longer has does not compile.
//
// One command does both steps (IavfBPFEmbed runs clang): SwiftPM would turn any
// other declared output, such as a .o file, into a resource bundle.
import Foundation
import PackagePlugin

@main
struct BPFObjectsPlugin: BuildToolPlugin {
    /// The BPF objects every target using this plugin embeds: (Swift name, source file).
    static let programs: [(name: String, source: String)] = [
        ("iavf", "iavf.bpf.c"),
        ("selftest", "selftest.bpf.c"),
    ]

    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let bpfDir = context.package.directoryURL.appendingPathComponent("bpf")
        let work = context.pluginWorkDirectoryURL
        let clang = try Self.findClang(context: context)
        let embed = try context.tool(named: "IavfBPFEmbed").url

        // Every header in bpf/ is an input of every object (cheap and always right).
        let headers = ((try? FileManager.default.contentsOfDirectory(atPath: bpfDir.path)) ?? [])
            .filter { $0.hasSuffix(".h") }
            .sorted()
            .map { bpfDir.appendingPathComponent($0) }
        let sources = Self.programs.map { bpfDir.appendingPathComponent($0.source) }
        let swiftOut = work.appendingPathComponent("EmbeddedBPFObjects.swift")

        var args = [
            "--output", swiftOut.path,
            "--objdir", work.path,
            "--clang", clang.path,
            "--cflag", "-g", "--cflag", "-O2", "--cflag", "-Wall", "--cflag", "-Werror",
            "--cflag", "-target", "--cflag", "bpf",
            "--cflag", "-D__TARGET_ARCH_\(Self.targetArch)",
            "--cflag", "-I\(bpfDir.path)",
            "--cflag", "-idirafter", "--cflag", "/usr/include/\(Self.multiarch)",
        ]
        for (program, source) in zip(Self.programs, sources) {
            args += ["\(program.name)=\(source.path)"]
        }
        return [.buildCommand(
            displayName: "Compiling and embedding BPF objects (\(Self.programs.map(\.source).joined(separator: ", ")))",
            executable: embed,
            arguments: args,
            inputFiles: sources + headers,
            outputFiles: [swiftOut]
        )]
    }

    /// clang that can target BPF: $IAVF_BPF_CLANG, the Swift toolchain's clang, or one on PATH.
    static func findClang(context: PluginContext) throws -> URL {
        if let override = ProcessInfo.processInfo.environment["IAVF_BPF_CLANG"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        return try context.tool(named: "clang").url
    }

    static var targetArch: String {
        #if arch(arm64)
        return "arm64"
        #else
        return "x86"
        #endif
    }

    static var multiarch: String {
        #if arch(arm64)
        return "aarch64-linux-gnu"
        #else
        return "x86_64-linux-gnu"
        #endif
    }
}
