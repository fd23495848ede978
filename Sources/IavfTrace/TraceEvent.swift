import IavfModel

/// One event of the trace contract (trace-format.md, version 1).
public struct TraceEvent: Sendable, Equatable {
    /// Most entries a snapshot's `filters` or a message's `vids` may have: 4094 VIDs for
    /// each of the two TPIDs 8021q uses, rounded up. Longer lists are bad input (they
    /// would only make the checker's per-event work grow).
    public static let maxListEntries = 8192

    // `body` first: with it last, the checker's first reads of an event's body straddled
    // the 16-byte stores of the event's copy and stalled on every event.
    public var body: Body
    public var seq: Int64
    public var tNs: Int64
    /// The adapter: its PCI address when known, else the netdev name at the start.
    public var dev: String

    public init(seq: Int64, tNs: Int64, dev: String, _ body: Body) {
        self.seq = seq
        self.tNs = tNs
        self.dev = dev
        self.body = body
    }

    public enum Phase: String, Sendable, Equatable {
        case enter, exit
    }

    public enum MarkResult: String, Sendable, Equatable {
        case PASS, FAIL, SKIP
    }

    /// What the emulated PF's switch does with one VF's traffic: the `ip link set PF vf N`
    /// settings in force and the frames passed and dropped, by filter, since the PF started.
    public struct PFPortState: Sendable, Equatable {
        public var pvid: UInt16 = 0
        public var spoofchk = true
        public var trusted = false
        public var linkUp = true
        public var counters = PFCounters()
        public init(pvid: UInt16 = 0, spoofchk: Bool = true, trusted: Bool = false, linkUp: Bool = true, counters: PFCounters = PFCounters()) {
            self.pvid = pvid; self.spoofchk = spoofchk; self.trusted = trusted; self.linkUp = linkUp; self.counters = counters
        }
    }

    /// Frames through the emulated PF's switch for one VF. Tx-side drops (spoof, VLAN on
    /// the sender, link, bad Tx descriptor, no receiver) count on the sender; Rx-side drops
    /// (VLAN on the receiver, link or queue down, no free Rx descriptor, bad Rx descriptor)
    /// on the receiver.
    public struct PFCounters: Sendable, Equatable {
        /// Frames taken from the VF's Tx ring / written into its Rx ring.
        public var tx = 0, rx = 0
        public var vlan = 0, spoof = 0, link = 0, badDescriptor = 0, noBuffer = 0, noRoute = 0
        public init() {}
        public init(tx: Int = 0, rx: Int = 0, vlan: Int = 0, spoof: Int = 0, link: Int = 0, badDescriptor: Int = 0,
                    noBuffer: Int = 0, noRoute: Int = 0) {
            self.tx = tx; self.rx = rx; self.vlan = vlan; self.spoof = spoof; self.link = link
            self.badDescriptor = badDescriptor; self.noBuffer = noBuffer; self.noRoute = noRoute
        }
        /// The drop counters by their trace names, in a fixed order.
        public var drops: [(name: String, count: Int)] {
            [("vlan", vlan), ("spoof", spoof), ("link", link), ("bad_desc", badDescriptor), ("no_buffer", noBuffer), ("no_route", noRoute)]
        }
    }

    /// A snapshot entry: a (vid, tpid) and a state name of either generation (a name of
    /// the other generation is a divergence, not bad input).
    public typealias SnapshotFilter = Filter

    public enum Body: Sendable, Equatable {
        /// `iavf_vlan_rx_add_vid`; `ret` at exit (negative errno).
        case addVid(key: VlanKey, phase: Phase, ret: Int32?)
        /// `iavf_vlan_rx_kill_vid`.
        case killVid(key: VlanKey, phase: Phase, ret: Int32?)
        /// `iavf_send_pf_msg`: the message the PF was asked.
        case send(op: VirtchnlOp, vids: [VlanKey], ret: Int32?)
        /// `iavf_virtchnl_completion` entry.
        case reply(op: VirtchnlOp, retval: Int32)
        case down(phase: Phase)
        case upComplete(phase: Phase)
        case open(phase: Phase, ret: Int32?)
        case close(phase: Phase, ret: Int32?)
        case reset(phase: Phase)
        /// A walk of `vlan_filter_list`: filters in list order and `num_vlan_filters`.
        case snapshot(filters: [SnapshotFilter], count: Int, at: String?)
        case settled(reason: String?)
        case lost(count: Int64)
        case mark(text: String, result: MarkResult?)
        /// The emulated PF's programmed set for this VF, and (from PFs with a data path) the
        /// port's settings and switch counters. Boxed: its counters would make every event
        /// 120 bytes instead of 80, and the checking thread reads each event once from memory
        /// the decoding thread wrote.
        indirect case pf(vids: [VlanKey], port: PFPortState? = nil)
        case caps(maxFilters: Int?)
        /// An `ev` this reader does not know (skipped by the checker).
        case unknown(kind: String)
    }

    /// The contract's `ev` name.
    public var kind: String { body.kind }

    /// `enter` or `exit` for the events that have a phase.
    public var phase: Phase? {
        switch body {
        case .addVid(_, let p, _), .killVid(_, let p, _), .open(let p, _), .close(let p, _): return p
        case .down(let p), .upComplete(let p), .reset(let p): return p
        default: return nil
        }
    }
}

extension TraceEvent.Body {
    public var kind: String {
        switch self {
        case .addVid: return "add_vid"
        case .killVid: return "kill_vid"
        case .send: return "send"
        case .reply: return "reply"
        case .down: return "down"
        case .upComplete: return "up_complete"
        case .open: return "open"
        case .close: return "close"
        case .reset: return "reset"
        case .snapshot: return "snapshot"
        case .settled: return "settled"
        case .lost: return "lost"
        case .mark: return "mark"
        case .pf: return "pf"
        case .caps: return "caps"
        case .unknown(let k): return k
        }
    }
}

/// Line 1 of a trace.
public struct TraceHeader: Sendable, Equatable {
    public enum Source: String, Sendable { case live, emulated, sim, manual }

    public var generation: Generation?
    public var kernel: String?
    public var vlanMode: VlanMode
    public var maxFilters: Int?
    public var source: Source?
    /// The recording began with the driver already running (`"mid_stream":true`, an addition
    /// to version 1): filters that existed before have no add_vid in the trace, so the
    /// checker takes each device's first snapshot as its starting point.
    public var midStream: Bool

    /// `generation == nil` is the contract's "unknown": only the spec rules apply.
    public init(generation: Generation?, kernel: String? = nil, vlanMode: VlanMode = .v2,
                maxFilters: Int? = nil, source: Source? = nil, midStream: Bool = false) {
        self.generation = generation
        self.kernel = kernel
        self.vlanMode = vlanMode
        self.maxFilters = maxFilters
        self.source = source
        self.midStream = midStream
    }
}
