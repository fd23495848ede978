import Foundation
import Testing
@testable import IavfVM

extension RealVMTests {
/// Defect 13: SIGTERM (CI's `timeout`) or SIGINT to a command that boots a guest must take
/// the guest down with it, exit with the documented code (128 + signal), and, for `suite
/// run`, leave the partial results marked interrupted. Each command runs only until its
/// qemu is up.
@Suite("Interrupted commands stop their guests", .serialized,
       .enabled(if: PFVMTestEnvironment.ready || VMTestEnvironment.isCI, PFVMTestEnvironment.reason))
struct InterruptVMTests {
    /// qemu processes whose parent is `pid`.
    static func qemuChildren(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { p in
            guard let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
                  let close = stat.range(of: ")", options: .backwards) else { return false }
            let fields = stat[close.upperBound...].split(separator: " ")
            guard fields.count > 2, pid_t(fields[1]) == pid else { return false }
            let cmd = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(p)/cmdline"))) ?? Data()
            return String(decoding: cmd, as: UTF8.self).contains("qemu-system-x86_64")
        }
    }

    /// Alive and not a zombie.
    static func alive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.range(of: ")", options: .backwards) else { return false }
        return stat[close.upperBound...].split(separator: " ").first != "Z"
    }

    struct Run {
        var status: Int32
        var stderr: String
        var qemu: [pid_t]
        var secondsToQemu: Double
    }

    /// Starts `iavf-check args`, waits for its qemu, sends `signal`, and waits for it to end.
    static func interrupt(_ args: [String], with signal: Int32) throws -> Run {
        let bin = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("iavf-check").path
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("interrupt-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errFile) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: PFVMTestEnvironment.packageRoot)
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = try FileHandle(forWritingTo: errFile)
        let t0 = Date()
        try p.run()
        var qemu: [pid_t] = []
        // The module build and kernel are cached after the first run; 300 s covers a cold cache.
        while p.isRunning && qemu.isEmpty && Date().timeIntervalSince(t0) < 300 {
            usleep(100_000)
            qemu = qemuChildren(of: p.processIdentifier)
        }
        let toQemu = Date().timeIntervalSince(t0)
        if p.isRunning { kill(p.processIdentifier, signal) }
        let end = Date().addingTimeInterval(15)
        while p.isRunning && Date() < end { usleep(50_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        // A guest that dies with iavf-check is gone at once; give the kernel a moment.
        let gone = Date().addingTimeInterval(3)
        while qemu.contains(where: alive) && Date() < gone { usleep(50_000) }
        let err = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
        return Run(status: p.terminationStatus, stderr: err, qemu: qemu, secondsToQemu: toQemu)
    }

    static func check(_ what: String, _ r: Run, expect code: Int32) {
        print("\(what): qemu after \(String(format: "%.1f", r.secondsToQemu)) s, exit \(r.status)")
        #expect(!r.qemu.isEmpty, "\(what): no qemu started\n\(r.stderr.suffix(2000))")
        #expect(r.status == code, "\(what): exit \(r.status)\n\(r.stderr.suffix(2000))")
        let left = r.qemu.filter(alive)
        #expect(left.isEmpty, "\(what): qemu \(left) still running after iavf-check ended")
        if !left.isEmpty { for q in left { kill(q, SIGKILL) } }
    }

    @Test("vm run: SIGTERM and SIGINT stop the guest (exit 143, 130)")
    func vmRun() throws {
        try #require(PFVMTestEnvironment.ready,
                     "CI=true, so the VM tests must run, but: \(PFVMTestEnvironment.missing.joined(separator: "; "))")
        Self.check("vm run, SIGTERM", try Self.interrupt(["vm", "run", "--kernel", "patched", "--", "sleep", "600"], with: SIGTERM),
                   expect: 143)
        Self.check("vm run, SIGINT", try Self.interrupt(["vm", "run", "--kernel", "patched", "--", "sleep", "600"], with: SIGINT),
                   expect: 130)
    }

    @Test("suite run: SIGTERM stops the guest, exits 143 and leaves suite.json marked interrupted")
    func suiteRun() throws {
        try #require(PFVMTestEnvironment.ready,
                     "CI=true, so the VM tests must run, but: \(PFVMTestEnvironment.missing.joined(separator: "; "))")
        let out = try TempDir("iavf-suite-int")
        defer { out.cleanup() }
        let r = try Self.interrupt(["suite", "run", "--kernel", "patched", "-o", out.path,
                                    "--pf-module", PFVMTestEnvironment.packageRoot + "/pf-module"], with: SIGTERM)
        Self.check("suite run", r, expect: 143)
        let data = try #require(FileManager.default.contents(atPath: out.file("suite.json")), "no partial suite.json\n\(r.stderr.suffix(2000))")
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["interrupted"] as? Bool == true)
        let kernels = json["kernels"] as? [[String: Any]] ?? []
        #expect(kernels.first?["kernel"] as? String == "patched")
        #expect((kernels.first?["problem"] as? String ?? "").contains("interrupted by SIGTERM"))
        #expect(FileManager.default.fileExists(atPath: out.file("suite.ktap")))
    }

    @Test("stress and bench downup: SIGTERM stops the guest (exit 143)")
    func stressAndBench() throws {
        try #require(PFVMTestEnvironment.ready,
                     "CI=true, so the VM tests must run, but: \(PFVMTestEnvironment.missing.joined(separator: "; "))")
        let out = try TempDir("iavf-int")
        defer { out.cleanup() }
        let pf = ["--pf-module", PFVMTestEnvironment.packageRoot + "/pf-module"]
        Self.check("stress", try Self.interrupt(["stress", "--kernel", "patched", "--replay", "add 100; del 100",
                                                 "-o", out.file("stress")] + pf, with: SIGTERM), expect: 143)
        Self.check("bench downup", try Self.interrupt(["bench", "downup", "--kernel", "patched", "--vlans", "0",
                                                       "--iterations", "1", "-o", out.file("downup")] + pf, with: SIGTERM),
                   expect: 143)
    }
}
}
