// libFuzzer target: bytes as a trace file -> TraceReader -> Checker -> finish() -> reports
// (IavfFuzzing/TraceHarness.swift). Bad input must come back as a thrown error; a trap, a
// sanitizer report or a hang (libFuzzer's -timeout) is a bug.
//
// Built with -D FUZZING and -sanitize=fuzzer by scripts/fuzz.sh (libFuzzer drives it). In a plain `swift build`
// the same code is a replayer: `FuzzTrace FILE|DIR...` runs each input once.
#if canImport(Glibc)
import Glibc
#endif
import IavfFuzzing

private let scratchPath = "/dev/shm/iavf-fuzz-trace-\(getpid()).jsonl"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    checkTrace(bytes: UnsafeBufferPointer(start: data, count: size), scratchPath: scratchPath)
    return 0
}

#if FUZZING
import CFuzzerDriver

/// SwiftPM links `main` to this target's Swift entry point, so libFuzzer's own main never
/// runs; hand the command line to its driver from here.
@main
enum Fuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) })
    }
}
#else
@main
enum Replay {
    static func main() {
        let inputs = replayInputs(Array(CommandLine.arguments.dropFirst()))
        var rejected = 0
        for path in inputs where checkTrace(path: path) == nil { rejected += 1 }
        print("FuzzTrace: \(inputs.count) inputs, \(rejected) rejected as bad input, no crash")
    }
}
#endif
