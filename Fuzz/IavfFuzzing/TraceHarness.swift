#if canImport(Glibc)
import Glibc
#endif
import IavfChecker
import IavfTrace

/// What the trace fuzzer does with one input, shared with the regression tests: the bytes
/// as a trace file -> TraceReader (header, events, gzip) -> Checker -> finish() -> every
/// report format. Returns the report, or nil when the reader rejected the input as bad
/// input (a clean `TraceReadError`). A trap, a sanitizer report or a hang is a bug.
@discardableResult
public func checkTrace(bytes: UnsafeBufferPointer<UInt8>, scratchPath: String) -> CheckReport? {
    // The reader takes a path (the check command's own entry), so the input goes to a file.
    let fd = open(scratchPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0, "cannot write \(scratchPath)")
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        precondition(n > 0, "short write to \(scratchPath)")
        done += n
    }
    close(fd)
    return checkTrace(path: scratchPath)
}

@discardableResult
public func checkTrace(path: String) -> CheckReport? {
    do {
        let r = try TraceReader(path: path)
        let c = Checker(header: r.header)
        while let e = try r.next() { c.feed(e) }
        let report = c.finish()
        for f in ReportFormat.allCases { _ = ReportRenderer.render(report, format: f, traceName: "fuzz") }
        return report
    } catch is TraceReadError {
        return nil
    } catch {
        // The contract's bad-input error is TraceReadError; anything else is a bug too.
        fatalError("unexpected error type \(type(of: error)): \(error)")
    }
}
