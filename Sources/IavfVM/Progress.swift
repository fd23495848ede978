import Foundation

/// Progress lines on stderr while the harness fetches, extracts and boots, so nobody waits in silence.
///
/// `stage(_:)` prints a line and arms a ticker: while the stage lasts, a "still ..." line follows
/// every `tickInterval` seconds of silence (with an optional detail such as bytes downloaded).
public final class VMProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let sink: (String) -> Void
    private let enabled: Bool
    public let start: Date
    private var stageName: String?
    private var stageStart = Date()
    private var stageDetail: (() -> String?)?
    private var lastLine = Date()
    private var timer: DispatchSourceTimer?
    let tickInterval: Double

    /// - Parameters:
    ///   - enabled: false prints nothing (`--quiet`).
    ///   - start: time zero of the `[  6.4s]` stamps; the start of the user's command.
    ///   - sink: where lines go; stderr by default.
    public init(enabled: Bool = true, start: Date = Date(), tickInterval: Double = 3,
                sink: @escaping (String) -> Void = VMProgress.standardError) {
        self.enabled = enabled
        self.start = start
        self.sink = sink
        self.tickInterval = tickInterval
    }

    deinit { timer?.cancel() }

    public static func standardError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// A silent reporter (library use and unit tests).
    public static var silent: VMProgress { VMProgress(enabled: false) }

    /// Seconds since `start`.
    public var elapsed: Double { Date().timeIntervalSince(start) }

    /// Prints one line.
    public func note(_ message: String) {
        guard enabled else { return }
        lock.lock()
        lastLine = Date()
        lock.unlock()
        sink(String(format: "iavf-check vm [%5.1fs] ", elapsed) + message)
    }

    /// Prints `message` and reports "still NAME" while no other line is printed.
    public func stage(_ name: String, message: String? = nil, detail: (() -> String?)? = nil) {
        lock.lock()
        stageName = name
        stageStart = Date()
        stageDetail = detail
        lock.unlock()
        note(message ?? name)
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        if timer == nil {
            let t = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
            t.schedule(deadline: .now() + 0.5, repeating: 0.5)
            t.setEventHandler { [weak self] in self?.tick() }
            t.resume()
            timer = t
        }
    }

    /// Ends the current stage (no more "still ..." lines).
    public func endStage() {
        lock.lock()
        stageName = nil
        stageDetail = nil
        timer?.cancel()
        timer = nil
        lock.unlock()
    }

    private func tick() {
        lock.lock()
        guard let name = stageName, Date().timeIntervalSince(lastLine) >= tickInterval else {
            lock.unlock()
            return
        }
        let since = Date().timeIntervalSince(stageStart)
        let detail = stageDetail
        lock.unlock()
        let extra = detail?().map { ", \($0)" } ?? ""
        note("... still \(name) (\(Int(since.rounded())) s\(extra))")
    }
}
