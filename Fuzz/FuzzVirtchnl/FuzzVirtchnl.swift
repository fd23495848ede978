// libFuzzer target for the emulated PF's virtchnl handling (IavfFuzzing/VirtchnlHarness.swift
// says what an input is). Built with -D FUZZING and -sanitize=fuzzer by scripts/fuzz.sh
// (libFuzzer drives it). In a plain `swift build` it is a replayer (`FuzzVirtchnl FILE|DIR...`)
// and writes the seed corpus (`FuzzVirtchnl --write-seeds DIR`).
#if canImport(Glibc)
import Glibc
#endif
import IavfFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    runVirtchnl(UnsafeBufferPointer(start: data, count: size))
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
        var args = Array(CommandLine.arguments.dropFirst())
        if args.first == "--write-seeds", args.count == 2 {
            for s in virtchnlSeeds() {
                let f = fopen(args[1] + "/" + s.name, "wb")!
                _ = s.bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
                fclose(f)
            }
            print("wrote \(virtchnlSeeds().count) seeds to \(args[1])")
            return
        }
        args = replayInputs(args)
        for path in args {
            guard let f = fopen(path, "rb") else { fatalError("cannot open \(path)") }
            var bytes: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = fread(&buf, 1, buf.count, f)
                if n <= 0 { break }
                bytes += buf[0..<n]
            }
            fclose(f)
            bytes.withUnsafeBufferPointer { _ = runVirtchnl($0) }
        }
        print("FuzzVirtchnl: \(args.count) inputs, no crash")
    }
}
#endif
