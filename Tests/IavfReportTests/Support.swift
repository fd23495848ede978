import Foundation
import IavfReport

/// The checkout (samples/ live there).
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func sample(_ name: String) -> String { root.appendingPathComponent("samples/\(name)").path }

/// Every sample trace, recorded ones included.
func allSamples() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("samples").path)
        .filter { $0.hasSuffix(".jsonl") }.sorted().map(sample)
}

/// Runs the built `iavf-check` (beside the test bundle) and returns (status, stdout, stderr).
func iavfCheck(_ args: [String]) throws -> (Int32, String, String) {
    let bin = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("iavf-check")
    let p = Process()
    p.executableURL = bin
    p.arguments = args
    p.currentDirectoryURL = root
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// This process's files go in one directory, removed at exit.
private let removeAtExit: Void = {
    atexit { try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("iavf-report-tests-\(getpid())")) }
}()

func tempPath(_ name: String) -> String {
    _ = removeAtExit
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iavf-report-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}
