import Foundation

/// Runs a host program to completion and captures its output (for apt, dpkg-deb, busybox depmod, sha256sum).
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        // Files rather than pipes: no deadlock on large output and no reader threads.
        let outURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("iavf-check-sub-\(getpid())-\(UUID().uuidString)")
        let errURL = outURL.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let outHandle = try FileHandle(forWritingTo: outURL)
        let errHandle = try FileHandle(forWritingTo: errURL)
        process.standardOutput = outHandle
        process.standardError = errHandle
        do {
            try process.run()
        } catch {
            throw VMError.environment("cannot run \(executable): \(error.localizedDescription)")
        }
        // make, apt, dpkg-deb: killed too when iavf-check is interrupted.
        Interruption.adopt(process.processIdentifier, group: false)
        process.waitUntilExit()
        Interruption.release(process.processIdentifier)
        Interruption.parkIfInterrupted()
        try? outHandle.close()
        try? errHandle.close()
        let out = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus
                                                                  : process.terminationStatus
        return Output(status: status, stdout: out, stderr: err)
    }
}
