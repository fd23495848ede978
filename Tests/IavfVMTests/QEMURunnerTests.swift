import Foundation
import Testing
@testable import IavfVM

/// The host side of a run (launch, console capture, result transport, timeout, crash detection),
/// driven by a shell script that plays qemu.
@Suite("QEMU runner with a fake qemu")
struct QEMURunnerTests {
    func request(_ dir: TempDir, fake body: String, timeout: Double = 30) throws -> VMRunRequest {
        let kernel = try makeFakeKernelTree(in: dir)
        var r = VMRunRequest(kernel: kernel, command: ["true"])
        r.qemuPath = try makeFakeQEMU(in: dir, body: body)
        r.busyboxPath = try dir.write("busybox", "fake busybox", mode: 0o755)
        r.timeout = timeout
        return r
    }

    @Test("the guest command's status, stdout and stderr come back (exit 7 gives 7)")
    func resultTransport() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let chunks = ChunkBox()
        var r = try request(dir, fake: """
        echo "vm-init[1.0]: kernel fake up"
        echo VM_CMD_BEGIN
        test -s "$out/cmd" || exit 9
        test -s "$out/initrd.cpio" || exit 9
        printf 'hello\\n' > "$out/stdout"
        printf 'oops-free stderr\\n' > "$out/stderr"
        echo 7 > "$out/exit_status"
        echo "VM_EXIT_STATUS=7"
        """)
        r.onStdout = { chunks.append($0) }
        let result = try QEMURunner().run(r)
        #expect(result.exitStatus == 7)
        #expect(result.stdoutText == "hello\n")
        #expect(result.stderrText == "oops-free stderr\n")
        #expect(chunks.data == Data("hello\n".utf8))
        #expect(result.bootSeconds != nil)
    }

    @Test("a hung guest is killed at the hard timeout and the console tail is reported")
    func timeout() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let consoleFile = dir.file("console.log")
        var r = try request(dir, fake: """
        echo "fake console: booting"
        exec sleep 600
        """, timeout: 1.5)
        r.consoleLogPath = consoleFile
        let start = Date()
        #expect {
            try QEMURunner().run(r)
        } throws: { error in
            guard case VMError.timeout(let seconds, let tail) = error else { return false }
            return seconds == 1.5 && tail.contains("fake console: booting") && (error as! VMError).exitCode == 124
        }
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(try String(contentsOfFile: consoleFile, encoding: .utf8).contains("fake console: booting"))
    }

    @Test("a qemu that ignores SIGTERM is killed too")
    func stubbornQEMU() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let r = try request(dir, fake: """
        trap '' TERM
        echo "stubborn"
        while :; do sleep 1; done
        """, timeout: 1)
        let start = Date()
        #expect(throws: VMError.self) { try QEMURunner().run(r) }
        #expect(Date().timeIntervalSince(start) < 15)
    }

    @Test("a guest panic is an error carrying the panic line")
    func panic() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let r = try request(dir, fake: """
        echo VM_CMD_BEGIN
        echo "[    4.1] sysrq: Trigger a crash"
        echo "[    4.2] Kernel panic - not syncing: sysrq triggered crash"
        """)
        #expect {
            try QEMURunner().run(r)
        } throws: { error in
            guard case VMError.guestCrashed(let reason, let tail) = error else { return false }
            return reason.contains("Kernel panic") && tail.contains("sysrq") && (error as! VMError).exitCode == 125
        }
    }

    @Test("an /init failure names its reason")
    func initFailure() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let r = try request(dir, fake: #"echo "VM_INIT_FAILED: modprobe iavf failed""#)
        #expect {
            try QEMURunner().run(r)
        } throws: { error in
            guard case VMError.guestInitFailed(let reason, _) = error else { return false }
            return reason == "modprobe iavf failed"
        }
    }

    @Test("qemu refusing to start is an environment problem (exit 3)")
    func qemuFailsToStart() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let r = try request(dir, fake: """
        echo "qemu-system-x86_64: -virtfs local: 9pfs is not supported" >&2
        exit 1
        """)
        #expect {
            try QEMURunner().run(r)
        } throws: { error in
            (error as? VMError)?.exitCode == 3 && "\(error)".contains("9pfs is not supported")
        }
    }

    @Test("qemu arguments: TCG only, host root read-only, modules and run directory shared")
    func arguments() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let kernel = try makeFakeKernelTree(in: dir)
        let args = QEMURunner.arguments(kernel: kernel, initrd: "/r/initrd", runDirectory: "/r", modules: [],
                                        memoryMB: 1024, cpus: 2)
        let joined = args.joined(separator: " ")
        #expect(joined.contains("-accel tcg"))
        #expect(!joined.contains("kvm"))
        #expect(joined.contains("path=/,mount_tag=hostroot,security_model=none,readonly=on"))
        #expect(joined.contains("path=\(kernel.modulesDirectory),mount_tag=kmods"))
        #expect(joined.contains("path=/r,mount_tag=vmout"))
        #expect(joined.contains("-no-reboot") && joined.contains("-m 1024"))
    }

    @Test("--writable directories become extra read-write 9p shares named on the command line")
    func writableShares() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let kernel = try makeFakeKernelTree(in: dir)
        let args = QEMURunner.arguments(kernel: kernel, initrd: "/r/i", runDirectory: "/r", modules: ["iavf"],
                                        writable: ["/srv/a", "/srv/b"], memoryMB: 512, cpus: 1).joined(separator: " ")
        #expect(args.contains("path=/srv/a,mount_tag=rw0,security_model=none"))
        #expect(args.contains("path=/srv/b,mount_tag=rw1,security_model=none"))
        #expect(args.contains("vmmods=iavf vmrw=/srv/a,/srv/b"))
        #expect(throws: VMError.self) { try QEMURunner.checkWritable(dir.file("missing")) }
        #expect(throws: VMError.self) { try QEMURunner.checkWritable("/") }
        #expect(try QEMURunner.checkWritable(dir.path) == dir.path)
    }

    @Test("console lines lose terminal escapes and carriage returns")
    func consoleCleaning() {
        var log = ConsoleLog()
        let lines = log.append(Array("\u{1b}[2J\u{1b}[0;1mSeaBIOS\r\npart".utf8), at: 0.5)
        #expect(lines.map(\.text) == ["SeaBIOS"])
        log.finish(at: 1)
        #expect(log.lines.map(\.text) == ["SeaBIOS", "part"])
        #expect(log.tail(1).hasSuffix("part"))
    }
}

final class ChunkBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = Data()
    func append(_ d: Data) { lock.lock(); stored.append(d); lock.unlock() }
    var data: Data { lock.lock(); defer { lock.unlock() }; return stored }
}
