import Foundation

/// Follows a file another process appends to (a guest's log over the shared directory),
/// handing each new line to `line` on a thread of its own until `stop()`, which also
/// delivers what is left.
public final class FileTail: @unchecked Sendable {
    private let path: String
    private let line: (String) -> Void
    private let lock = NSLock()
    private var stopped = false
    private var offset: UInt64 = 0
    private var partial = Data()

    /// `interval`: seconds between polls. The file is removed first (a previous run's lines
    /// are not this run's).
    public init(path: String, interval: Double = 0.5, line: @escaping (String) -> Void) {
        self.path = path
        self.line = line
        try? FileManager.default.removeItem(atPath: path)
        Thread.detachNewThread { [weak self] in
            while let self, !self.isStopped {
                self.poll()
                Thread.sleep(forTimeInterval: interval)
            }
        }
    }

    private var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }

    /// Reads what was appended since the last poll and delivers its complete lines.
    public func poll() {
        lock.lock(); defer { lock.unlock() }
        guard !stopped, let h = FileHandle(forReadingAtPath: path) else { return }
        defer { try? h.close() }
        try? h.seek(toOffset: offset)
        let data = h.readDataToEndOfFile()
        offset += UInt64(data.count)
        partial.append(data)
        while let nl = partial.firstIndex(of: 0x0a) {
            let text = String(decoding: partial[partial.startIndex..<nl], as: UTF8.self)
            partial.removeSubrange(partial.startIndex...nl)
            line(text)
        }
    }

    public func stop() {
        poll()
        lock.lock(); stopped = true; lock.unlock()
    }
}
