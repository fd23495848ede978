import Foundation
import IavfSystem

/// `downup.json`: per kernel and VLAN count, the latency percentiles and messages per cycle,
/// the probes' overhead on wall time and the probe programs' run-time stats. A figure that
/// could not be measured is left out (never a made-up number).
public struct DownUpReport: JSONDocument, Sendable, Equatable {
    public struct ProgramStat: Codable, Sendable, Equatable {
        public var program: String
        public var runs: UInt64
        public var nsPerRun: Double?
        enum CodingKeys: String, CodingKey { case program, runs, nsPerRun = "ns_per_run" }
        public init(program: String, runs: UInt64, nsPerRun: Double?) {
            self.program = program
            self.runs = runs
            self.nsPerRun = nsPerRun
        }
    }

    public struct Count: Codable, Sendable, Equatable {
        public var vlans: Int
        public var cycles: Int
        public var p50Ms, p90Ms, p99Ms, maxMs, downP50Ms, vlanMessagesPerCycle: Double?
        public var messagesPerCycle: [String: Double?]
        enum CodingKeys: String, CodingKey {
            case vlans, cycles
            case p50Ms = "p50_ms", p90Ms = "p90_ms", p99Ms = "p99_ms", maxMs = "max_ms", downP50Ms = "down_p50_ms"
            case vlanMessagesPerCycle = "vlan_messages_per_cycle", messagesPerCycle = "messages_per_cycle"
        }

        public init(_ s: DownUpStats) {
            vlans = s.vlans
            cycles = s.cycles
            p50Ms = DownUpReport.figure(s.p50Ms)
            p90Ms = DownUpReport.figure(s.p90Ms)
            p99Ms = DownUpReport.figure(s.p99Ms)
            maxMs = DownUpReport.figure(s.maxMs)
            downP50Ms = DownUpReport.figure(s.downP50Ms)
            vlanMessagesPerCycle = DownUpReport.figure(s.vlanMessagesPerCycle)
            messagesPerCycle = s.messagesPerCycle.mapValues { DownUpReport.figure($0) }
        }
    }

    public struct Kernel: Codable, Sendable, Equatable {
        public var kernel: String
        public var release: String
        /// The checker's verdict on the probed loop and its counts by rule: "pass ()".
        public var checker: String
        public var programStats: [ProgramStat]
        public var wallUpMsWithProbes: Double?
        public var wallUpMsWithoutProbes: Double?
        public var counts: [Count]
        enum CodingKeys: String, CodingKey {
            case kernel, release, checker, counts
            case programStats = "program_stats", wallUpMsWithProbes = "wall_up_ms_with_probes"
            case wallUpMsWithoutProbes = "wall_up_ms_without_probes"
        }

        public init(kernel: String, release: String, checker: String, programStats: [ProgramStat],
                    wallUpMsWithProbes: Double, wallUpMsWithoutProbes: Double, stats: [DownUpStats]) {
            self.kernel = kernel
            self.release = release
            self.checker = checker
            self.programStats = programStats
            self.wallUpMsWithProbes = DownUpReport.figure(wallUpMsWithProbes)
            self.wallUpMsWithoutProbes = DownUpReport.figure(wallUpMsWithoutProbes)
            self.counts = stats.map(Count.init)
        }
    }

    public var serviceUs: Int
    public var iterations: Int
    public var kernels: [Kernel]
    enum CodingKeys: String, CodingKey { case serviceUs = "service_us", iterations, kernels }

    public init(serviceUs: Int, iterations: Int, kernels: [Kernel]) {
        self.serviceUs = serviceUs
        self.iterations = iterations
        self.kernels = kernels
    }

    /// NaN (not measured) becomes nil; the rest is rounded to microseconds.
    static func figure(_ x: Double) -> Double? { x.isNaN ? nil : (x * 1000).rounded() / 1000 }


    private static func f(_ x: Double?) -> String { x.map { String(format: "%.1f", $0) } ?? "-" }
    private static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

    /// The table `bench downup` prints.
    public func text(plot: String) -> String {
        var s = "down/up latency, emulated PF with \(serviceUs) us admin-queue service time, \(iterations) cycles per count\n\n"
        s += "kernel      VLANs  up p50 ms  p90    p99    max    down p50  VLAN msgs/cycle\n"
        for r in kernels {
            for st in r.counts {
                s += "\(Self.pad(r.kernel, 11)) \(Self.pad(String(st.vlans), 6)) \(Self.pad(Self.f(st.p50Ms), 10)) \(Self.pad(Self.f(st.p90Ms), 6)) \(Self.pad(Self.f(st.p99Ms), 6)) \(Self.pad(Self.f(st.maxMs), 6)) \(Self.pad(Self.f(st.downP50Ms), 9)) \(Self.f(st.vlanMessagesPerCycle))\n"
            }
        }
        // Each later kernel against the first: the ratio people ask for (unpatched/patched).
        if kernels.count > 1 {
            let base = kernels[0]
            for other in kernels.dropFirst() {
                s += "\n\(base.kernel)/\(other.kernel), up p50:"
                for st in base.counts {
                    if let q = other.counts.first(where: { $0.vlans == st.vlans }), let a = st.p50Ms, let b = q.p50Ms, b > 0 {
                        s += "  \(st.vlans) VLANs \(String(format: "%.2f", a / b))x"
                    }
                }
                s += "\n"
            }
        }
        for r in kernels {
            let ratio = r.wallUpMsWithProbes.flatMap { w in r.wallUpMsWithoutProbes.flatMap { $0 > 0 ? String(format: "%.2f", w / $0) : nil } } ?? "-"
            s += "\n\(r.kernel): probes' overhead on the wall-clock up time: \(Self.f(r.wallUpMsWithProbes)) ms with, \(Self.f(r.wallUpMsWithoutProbes)) ms without (\(ratio)x); checker: \(r.checker)"
        }
        for r in kernels where !r.programStats.isEmpty {
            s += "\n\n\(r.kernel): bpf_stats over the loop (ns per program run):"
            for p in r.programStats { s += "\n  \(Self.pad(p.program, 28)) \(Self.pad(String(p.runs), 8)) runs  \(Self.f(p.nsPerRun)) ns" }
        }
        return s + "\n\nplot: \(plot)\n"
    }
}
