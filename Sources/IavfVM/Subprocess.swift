import Foundation
import IavfSystem
#if canImport(Glibc)
import Glibc
#endif

/// Runs a host program to completion and captures its output (for apt, dpkg-deb, make,
/// busybox depmod, sha256sum).
struct Subprocess {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        var combined: String { [stdout, stderr].filter { !$0.isEmpty }.joined(separator: "\n") }
    }

    /// Runs `executable args` in `directory`; never throws for a non-zero exit (the caller decides).
    static func run(_ executable: String, _ arguments: [String], directory: String? = nil,
                    environment: [String: String]? = nil) throws -> Output {
        // Files rather than pipes: no deadlock on large output and no reader threads.
        let base = FileManager.default.temporaryDirectory.path + "/iavf-check-sub-\(getpid())-\(UUID().uuidString)"
        let outFd = open(base, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let errFd = open(base + ".err", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer {
            if outFd >= 0 { close(outFd) }
            if errFd >= 0 { close(errFd) }
            unlink(base); unlink(base + ".err")
        }
        guard outFd >= 0, errFd >= 0 else { throw VMError.environment("cannot create \(base): \(String(cString: strerror(errno)))") }
        var argv = [executable] + arguments
        if let environment {
            argv = ["/usr/bin/env", "-i"] + environment.map { "\($0.key)=\($0.value)" }.sorted() + argv
        }
        var o = Spawn.Options()
        o.stdout = outFd
        o.stderr = errFd
        o.directory = directory
        o.searchPath = !executable.hasPrefix("/")
        let pid: pid_t
        do { pid = try Spawn.start(argv, o) } catch {
            throw VMError.environment("cannot run \(executable): \(error)")
        }
        // make, apt, dpkg-deb: killed too when iavf-check is interrupted.
        Interruption.adopt(pid, group: false)
        let st = Spawn.wait(pid) ?? 0
        Interruption.release(pid)
        Interruption.parkIfInterrupted()
        func text(_ fd: Int32) -> String {
            lseek(fd, 0, SEEK_SET)
            return String(decoding: Spawn.readAll(fd), as: UTF8.self)
        }
        return Output(status: Spawn.shellStatus(st), stdout: text(outFd), stderr: text(errFd))
    }
}
