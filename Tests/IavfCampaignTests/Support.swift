import Foundation

/// This process's scratch: one directory, removed at exit (each run's would pile up in /tmp).
private let scratchRoot: String = {
    atexit {
        try? FileManager.default.removeItem(atPath: FileManager.default.temporaryDirectory.appendingPathComponent("iavf-campaign-tests-\(getpid())").path)
    }
    return FileManager.default.temporaryDirectory.appendingPathComponent("iavf-campaign-tests-\(getpid())").path
}()

/// A fresh directory under the temporary directory for one test.
func scratchDirectory(_ prefix: String) throws -> String {
    let d = scratchRoot + "/\(prefix)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}
