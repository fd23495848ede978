// swift-tools-version:6.0
// iavf-check: validates the iavf VLAN filter state machine against traces
// recorded live (eBPF), in a VM against an emulated PF, or written by hand.
import PackageDescription

let package = Package(
    name: "iavf-check",
    products: [
        .executable(name: "iavf-check", targets: ["iavf-check"]),
        .library(name: "IavfModel", targets: ["IavfModel"]),
        .library(name: "IavfTrace", targets: ["IavfTrace"]),
        .library(name: "IavfChecker", targets: ["IavfChecker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // zlib from Debian (zlib1g-dev): reads plain and gzip traces through one path.
        .systemLibrary(name: "CZlib", path: "CShims/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // Process-level vocabulary: exit statuses and the errors that carry one, the one
        // posix_spawn, signal interruption, file tailing, unbuffered output.
        .target(name: "IavfSystem", path: "Sources/IavfSystem"),
        // KTAP version 1: the one writer and reader of test points.
        .target(name: "IavfKTAP", path: "Sources/IavfKTAP"),
        // The two generations' transition tables as data, and the engine that applies them.
        .target(name: "IavfModel", dependencies: ["IavfSystem"], path: "Sources/IavfModel"),
        // The event type and the JSONL reader/writer of trace-format.md.
        .target(name: "IavfTrace", dependencies: ["IavfModel", "IavfSystem", "CZlib"], path: "Sources/IavfTrace"),
        // Intent set, spec rules, divergence against the model, findings, verdict, reports.
        .target(name: "IavfChecker", dependencies: ["IavfModel", "IavfTrace", "IavfKTAP", "IavfSystem"], path: "Sources/IavfChecker"),
        // Exporters over a checked trace: Perfetto/Chrome trace-event JSON, JUnit XML, the HTML report.
        .target(name: "IavfReport", dependencies: ["IavfModel", "IavfTrace", "IavfChecker", "IavfScenarios", "IavfCampaign"], path: "Sources/IavfReport"),
        // Kernel fetch/cache, initramfs, qemu -accel tcg: run a command in a Debian guest kernel.
        .target(name: "IavfVM", dependencies: ["IavfModel", "IavfSystem"], path: "Sources/IavfVM"),
        // bpf/iavf_events.h, the record layout shared with the BPF programs, as a C module (its
        // include/ holds a link to the header); compiling it checks the record sizes host-side.
        .target(name: "CIavfEvents", path: "CShims/CIavfEvents"),
        // libbpf behind a thin C API (iavfshim_*): open from memory, load, attach, ring buffer, BTF.
        .target(name: "CIavfShim", dependencies: ["CIavfEvents"], path: "CShims/CIavfShim",
                linkerSettings: [.linkedLibrary("bpf"), .linkedLibrary("elf"), .linkedLibrary("z")]),
        // The C side of `bench pipeline` and the host self-test: a minimal C consumer of the ring
        // buffer (what the Swift consumer is measured against) and the prctl() trigger.
        .target(name: "CIavfBenchConsumer", dependencies: ["CIavfShim", "CIavfEvents"], path: "CShims/CIavfBenchConsumer",
                linkerSettings: [.linkedLibrary("bpf")]),
        // setns(2) for the suite's netlink queries in a VF's namespace.
        .target(name: "CIavfNetns", path: "CShims/CIavfNetns"),
        // Fault injection into the shim through its hook, for tests only: no product depends on it.
        .target(name: "CIavfShimFaults", dependencies: ["CIavfShim"], path: "CShims/CIavfShimFaults"),
        // Host tool of the BPFObjectsPlugin: turns compiled BPF objects into Swift source.
        .executableTarget(name: "IavfBPFEmbed", path: "Sources/IavfBPFEmbed"),
        // Compiles bpf/*.bpf.c with clang -target bpf and embeds them: `swift build` is the only step.
        .plugin(name: "BPFObjectsPlugin", capability: .buildTool(), dependencies: ["IavfBPFEmbed"],
                path: "Plugins/BPFObjectsPlugin"),
        // Live probes: Swift owners of libbpf objects, the record decoder, BTF look-ups, probe table.
        .target(name: "IavfProbes", dependencies: ["CIavfShim", "CIavfEvents", "CIavfBenchConsumer", "IavfModel", "IavfSystem"], path: "Sources/IavfProbes",
                // The ring buffer callback runs per record; dynamic exclusivity checks on the
                // pipeline's counters were a tenth of the consumer's time (bench pipeline).
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])],
                plugins: ["BPFObjectsPlugin"]),
        // Live recording: probe records, command output and the clock in, contract events out.
        .target(name: "IavfRecorder", dependencies: ["IavfProbes", "IavfTrace", "IavfModel"], path: "Sources/IavfRecorder"),
        // The scenario suite: the selftest's state and reset cases against the emulated PF's VFs.
        .target(name: "IavfScenarios", dependencies: ["IavfModel", "IavfTrace", "IavfKTAP", "IavfSystem", "CIavfNetns"], path: "Sources/IavfScenarios"),
        // The engines of the commands that boot guests: the guest with the emulated PF, the
        // live session (attach, run a child, record), the suite and stress campaigns.
        .target(name: "IavfCampaign", dependencies: ["IavfVM", "IavfBench", "IavfProbes", "IavfRecorder", "IavfChecker", "IavfScenarios",
                                                     "IavfModel", "IavfTrace", "IavfKTAP", "IavfSystem"],
                path: "Sources/IavfCampaign"),
        // Down/up latency from probe traces: cycles, HdrHistogram percentiles, the SVG plot.
        .target(name: "IavfBench", dependencies: ["IavfTrace", "IavfModel", "IavfSystem",
                                                  .product(name: "Histogram", package: "hdrhistogram-swift")],
                path: "Sources/IavfBench"),
        // The reference model driven like the real driver, writing the trace a perfect
        // recorder would: property tests, the replay bench, and later the stress mode.
        .target(name: "IavfSim", dependencies: ["IavfModel", "IavfTrace"], path: "Sources/IavfSim"),
        // The emulated AVF PF (user space, in the guest): admin queue rings over the avfpf module
        // (pf-module/), virtchnl codecs, ice's per-VF policy, resets and faults, `pf` trace events.
        .target(name: "IavfPF", dependencies: ["IavfModel", "IavfTrace", "IavfSystem"], path: "Sources/IavfPF"),
        // The CLI's commands (a library so tests can call them; the executable is a thin main).
        .target(name: "IavfCheckCLI", dependencies: [
            "IavfModel", "IavfTrace", "IavfChecker", "IavfSim", "IavfVM", "IavfProbes", "IavfRecorder", "IavfScenarios", "IavfPF", "IavfBench", "IavfReport", "IavfCampaign", "IavfSystem", "IavfKTAP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/IavfCheckCLI"),
        .executableTarget(name: "iavf-check", dependencies: ["IavfCheckCLI"], path: "Sources/iavf-check"),

        // libFuzzer targets (scripts/fuzz.sh builds them with -sanitize=fuzzer -D FUZZING); in a
        // plain build they are replayers of a corpus, so `swift build` needs no fuzzer runtime.
        // What each fuzzer does with an input, shared with the regression tests.
        .target(name: "IavfFuzzing", dependencies: ["IavfTrace", "IavfChecker", "IavfPF", "IavfModel"], path: "Fuzz/IavfFuzzing"),
        .target(name: "CFuzzerDriver", path: "Fuzz/CFuzzerDriver"),
        .executableTarget(name: "FuzzTrace", dependencies: ["IavfFuzzing", "CFuzzerDriver"], path: "Fuzz/FuzzTrace"),
        .executableTarget(name: "FuzzVirtchnl", dependencies: ["IavfFuzzing", "CFuzzerDriver"], path: "Fuzz/FuzzVirtchnl"),

        // The checker and reader too: the mutation test runs the sample traces against mutated tables.
        .testTarget(name: "IavfModelTests", dependencies: ["IavfModel", "IavfChecker", "IavfTrace"], path: "Tests/IavfModelTests"),
        .testTarget(name: "IavfTraceTests", dependencies: ["IavfTrace", "IavfSystem", "IavfFuzzing"], path: "Tests/IavfTraceTests"),
        .testTarget(name: "IavfCheckerTests", dependencies: ["IavfChecker", "IavfTrace", "IavfModel", "IavfSim"],
                    path: "Tests/IavfCheckerTests"),
        .testTarget(name: "CLITests", dependencies: ["iavf-check"], path: "Tests/CLITests"),
        .testTarget(name: "IavfProbesTests", dependencies: ["IavfProbes", "IavfModel", "IavfSystem", "CIavfShim", "CIavfEvents", "CIavfShimFaults"], path: "Tests/IavfProbesTests"),
        .testTarget(name: "IavfRecorderTests", dependencies: ["IavfRecorder", "IavfProbes", "IavfTrace", "IavfChecker"],
                    path: "Tests/IavfRecorderTests"),
        .testTarget(name: "IavfPFTests", dependencies: ["IavfPF", "IavfTrace", "IavfModel", "IavfFuzzing"], path: "Tests/IavfPFTests"),
        .testTarget(name: "IavfScenariosTests", dependencies: ["IavfScenarios", "IavfKTAP"], path: "Tests/IavfScenariosTests"),
        .testTarget(name: "IavfCampaignTests", dependencies: ["IavfCampaign", "IavfBench", "IavfScenarios", "IavfChecker", "IavfModel", "IavfKTAP", "IavfSystem", "IavfVM"],
                    path: "Tests/IavfCampaignTests"),
        .testTarget(name: "IavfBenchTests", dependencies: ["IavfBench", "IavfTrace", "IavfModel"], path: "Tests/IavfBenchTests"),
        .testTarget(name: "IavfReportTests", dependencies: ["IavfReport", "IavfCampaign", "IavfScenarios", "IavfChecker", "IavfTrace", "IavfModel", "iavf-check"],
                    path: "Tests/IavfReportTests"),
        .testTarget(name: "IavfVMTests", dependencies: ["IavfVM", "iavf-check"], path: "Tests/IavfVMTests"),
    ],
    swiftLanguageModes: [.v5]
)
