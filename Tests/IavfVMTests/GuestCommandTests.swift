import Foundation
import Testing
@testable import IavfVM

@Suite("Guest command script")
struct GuestCommandTests {
    @Test("plain words stay plain; the rest is single-quoted")
    func quoting() {
        #expect(GuestCommand.quote("iavf-check") == "iavf-check")
        #expect(GuestCommand.quote("--format=json") == "--format=json")
        #expect(GuestCommand.quote("") == "''")
        #expect(GuestCommand.quote("a b") == "'a b'")
        #expect(GuestCommand.quote("it's") == #"'it'\''s'"#)
        #expect(GuestCommand.quote("$HOME") == "'$HOME'")
    }

    @Test("the host's /bin/sh running the script sees exactly the argv given", arguments: [
        ["printf", "[%s]\n", "plain", "two words", "it's", "$HOME", "`id`", "*", "", "back\\slash", "new\nline", "ünï"],
    ])
    func argvSurvives(argv: [String]) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let script = try GuestCommand.script(command: argv, workingDirectory: dir.path,
                                             environment: [("GREETING", "hello 'you'")])
        let path = try dir.write("cmd", script)
        let out = try Subprocess.run("/bin/sh", [path])
        #expect(out.status == 0)
        #expect(out.stdout == argv.dropFirst(2).map { "[\($0)]\n" }.joined())
        let env = try GuestCommand.script(command: ["sh", "-c", "echo \"$GREETING\"; pwd"], workingDirectory: dir.path,
                                          environment: [("GREETING", "hello 'you'")])
        let envOut = try Subprocess.run("/bin/sh", [try dir.write("cmd2", env)])
        #expect(envOut.stdout == "hello 'you'\n\(dir.path)\n")
    }

    @Test("a working directory missing in the guest falls back to /")
    func cdFallback() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let script = try GuestCommand.script(command: ["pwd"], workingDirectory: "/nonexistent/dir")
        let out = try Subprocess.run("/bin/sh", [try dir.write("cmd", script)])
        #expect(out.stdout == "/\n")
    }

    @Test("no command or a bad variable name is a usage error")
    func usage() {
        #expect(throws: VMError.self) { try GuestCommand.script(command: [], workingDirectory: nil) }
        #expect(throws: VMError.self) {
            try GuestCommand.script(command: ["true"], workingDirectory: nil, environment: [("A B", "x")])
        }
    }

    @Test("the kernel command line carries vmout and vmmods as plain words")
    func kernelCommandLine() {
        let line = QEMURunner.kernelCommandLine(runDirectory: "/tmp/run.X", modules: ["iavf", "8021q"])
        #expect(line.contains("vmout=/tmp/run.X vmmods=iavf,8021q"))
        #expect(line.contains("panic=-1") && line.contains("oops=panic") && line.contains("console=ttyS0"))
        #expect(QEMURunner.qemuValue("/a,b") == "/a,,b")
    }

    @Test("--kernel-arg words reach the kernel command line unquoted ($ included)")
    func extraKernelArguments() {
        let line = QEMURunner.kernelCommandLine(runDirectory: "/r", modules: [], extra: ["memmap=2M$0x7e000000", "loglevel=7"])
        #expect(line.hasSuffix(" memmap=2M$0x7e000000 loglevel=7") || line.contains(" memmap=2M$0x7e000000 loglevel=7"))
        let args = QEMURunner.arguments(kernel: PreparedKernel(tree: "/k", release: "r", vmlinuz: "/k/v", modulesDirectory: "/k/m",
                                                               label: "x", wasCached: true),
                                        initrd: "/i", runDirectory: "/r", modules: [], kernelArguments: ["memmap=2M$0x7e000000"],
                                        memoryMB: 2048, cpus: 2)
        let append = args[(args.firstIndex(of: "-append") ?? 0) + 1]
        #expect(append.contains("memmap=2M$0x7e000000"))
    }

    @Test("--insmod files are loaded before the command, with their parameters; a failure exits 125")
    func insmodLines() throws {
        let script = try GuestCommand.script(command: ["true"], workingDirectory: nil,
                                             insmod: ["/cache/avfpf.ko nvfs=2", "/x/y.ko"])
        #expect(script.contains("insmod /cache/avfpf.ko nvfs=2 || {"))
        #expect(script.contains("insmod /x/y.ko || {"))
        #expect(script.contains("exit 125"))
        let lines = script.split(separator: "\n")
        #expect(lines.firstIndex { $0.hasPrefix("insmod /x/y.ko") }! < lines.firstIndex { $0.hasPrefix("exec ") }!)
        #expect(throws: VMError.self) { try GuestCommand.script(command: ["true"], workingDirectory: nil, insmod: ["relative.ko"]) }
    }
}
