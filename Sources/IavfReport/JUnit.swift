import IavfChecker
import IavfTrace

/// JUnit XML as CI servers read it (Jenkins, GitLab, GitHub test reporters):
/// `<testsuites>` of `<testsuite>`s of `<testcase>`s with `<failure>`, `<error>` or `<skipped>`.
/// The input is neutral (named cases with a status) so `check`, `suite run` and `stress`
/// can all write it.
public enum JUnit {
    public enum Status: String, Sendable, Codable {
        case passed, failed, skipped, error
    }

    public struct Case: Sendable, Codable, Equatable {
        public var name: String
        /// Shown as the case's group; CI servers nest cases under it.
        public var className: String
        public var status: Status
        /// One line: the failure's or skip's reason (the `message` attribute).
        public var message: String?
        /// The details (the element's text): findings, output.
        public var text: String?
        /// Seconds.
        public var time: Double?
        /// Shown beside the result whatever it is (`<system-out>`): warnings and notes of a passed case.
        public var systemOut: String?

        public init(name: String, className: String, status: Status, message: String? = nil, text: String? = nil,
                    time: Double? = nil, systemOut: String? = nil) {
            self.name = name
            self.className = className
            self.status = status
            self.message = message
            self.text = text
            self.time = time
            self.systemOut = systemOut
        }
    }

    public struct Suite: Sendable, Codable, Equatable {
        public var name: String
        /// ISO 8601, when known.
        public var timestamp: String?
        /// name/value pairs, in order (generation, kernel, verdict, ...).
        public var properties: [Property]
        public var cases: [Case]
        /// Seconds; the sum of the cases' times when absent.
        public var time: Double?

        public init(name: String, timestamp: String? = nil, properties: [Property] = [], cases: [Case], time: Double? = nil) {
            self.name = name
            self.timestamp = timestamp
            self.properties = properties
            self.cases = cases
            self.time = time
        }

        public func count(_ s: Status) -> Int { cases.filter { $0.status == s }.count }
        public var totalTime: Double { time ?? cases.compactMap(\.time).reduce(0, +) }
    }

    public struct Property: Sendable, Codable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The document: `<?xml ...?>` and one `<testsuites>` holding `suites`.
    public static func render(_ suites: [Suite], name: String = "iavf-check") -> String {
        func n(_ s: Status) -> Int { suites.map { $0.count(s) }.reduce(0, +) }
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<testsuites name=\"\(attr(name))\" tests=\"\(suites.map(\.cases.count).reduce(0, +))\" failures=\"\(n(.failed))\""
        x += " errors=\"\(n(.error))\" skipped=\"\(n(.skipped))\" time=\"\(seconds(suites.map(\.totalTime).reduce(0, +)))\">\n"
        for (i, s) in suites.enumerated() {
            x += "  <testsuite name=\"\(attr(s.name))\" id=\"\(i)\" tests=\"\(s.cases.count)\" failures=\"\(s.count(.failed))\""
            x += " errors=\"\(s.count(.error))\" skipped=\"\(s.count(.skipped))\" time=\"\(seconds(s.totalTime))\""
            if let t = s.timestamp { x += " timestamp=\"\(attr(t))\"" }
            x += ">\n"
            if !s.properties.isEmpty {
                x += "    <properties>\n"
                for p in s.properties { x += "      <property name=\"\(attr(p.name))\" value=\"\(attr(p.value))\"/>\n" }
                x += "    </properties>\n"
            }
            for c in s.cases {
                x += "    <testcase name=\"\(attr(c.name))\" classname=\"\(attr(c.className))\""
                if let t = c.time { x += " time=\"\(seconds(t))\"" }
                let tag: String?
                switch c.status {
                case .passed: tag = nil
                case .failed: tag = "failure"
                case .skipped: tag = "skipped"
                case .error: tag = "error"
                }
                let out = c.systemOut.flatMap { $0.isEmpty ? nil : $0 }
                if tag == nil && out == nil { x += "/>\n"; continue }
                x += ">\n"
                if let tag {
                    x += "      <\(tag)"
                    if let m = c.message { x += " message=\"\(attr(m))\"" }
                    if c.status == .failed || c.status == .error { x += " type=\"\(tag)\"" }
                    if let t = c.text, !t.isEmpty { x += ">\(text(t))</\(tag)>\n" } else { x += "/>\n" }
                }
                if let out { x += "      <system-out>\(text(out))</system-out>\n" }
                x += "    </testcase>\n"
            }
            x += "  </testsuite>\n"
        }
        x += "</testsuites>\n"
        return x
    }

    static func seconds(_ t: Double) -> String {
        let ms = Int64((t * 1000).rounded())
        let frac = String(ms % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
    }

    /// Text content: markup characters escaped, and characters XML 1.0 forbids (control
    /// characters a trace's mark text may carry) shown as U+FFFD instead of breaking the file.
    public static func text(_ s: String) -> String {
        var o = ""
        o.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\t", "\n", "\r": o.unicodeScalars.append(u)
            default:
                let v = u.value
                if v < 0x20 || v == 0xFFFE || v == 0xFFFF { o += "\u{FFFD}" } else { o.unicodeScalars.append(u) }
            }
        }
        return o
    }

    /// Attribute values: also quotes, and line breaks kept as character references
    /// (a parser would fold a literal newline in an attribute into a space).
    public static func attr(_ s: String) -> String {
        var o = ""
        for ch in text(s).unicodeScalars {
            switch ch {
            case "\"": o += "&quot;"
            case "'": o += "&apos;"
            case "\n": o += "&#10;"
            case "\r": o += "&#13;"
            case "\t": o += "&#9;"
            default: o.unicodeScalars.append(ch)
            }
        }
        return o
    }
}

extension JUnit {
    /// A checked trace as one suite, with the test points of the KTAP output: one case per
    /// marked test case (plus "findings outside any case" when there are some), or one per
    /// rule when the trace has no cases. A case fails when it holds a violation; inconclusive
    /// and unfinished cases are skipped.
    public static func suite(for r: CheckReport, traceName: String) -> Suite {
        var props = [Property("verdict", r.verdict.rawValue),
                     Property("generation", r.header.generation?.rawValue ?? "unknown")]
        if let k = r.header.kernel { props.append(Property("kernel", k)) }
        props.append(Property("vlan_mode", r.header.vlanMode.rawValue))
        props.append(Property("max_filters", r.header.maxFilters.map(String.init) ?? "unknown"))
        if let s = r.header.source { props.append(Property("source", s.rawValue)) }
        props.append(Property("events", String(r.events)))
        props.append(Property("devices", r.devices.joined(separator: " ")))
        for reason in r.inconclusiveReasons { props.append(Property("inconclusive", reason)) }

        let inconclusive = !r.inconclusiveReasons.isEmpty
        let skipReason = "inconclusive: " + r.inconclusiveReasons.joined(separator: "; ")
        let cls = "iavf-check." + (r.header.generation?.rawValue ?? "unknown")
        func details(_ fs: [Finding]) -> String? {
            // Violations first, as `check` prints them.
            fs.isEmpty ? nil : fs.sorted { ($0.severity, $0.seq) < ($1.severity, $1.seq) }.map { ReportRenderer.text($0) }.joined(separator: "\n")
        }
        func summary(_ fs: [Finding], violations: Int) -> String {
            let rules = Set(fs.filter { $0.severity == .violation }.map(\.rule.rawValue)).sorted()
            return "\(violations) violation\(violations == 1 ? "" : "s")" + (rules.isEmpty ? "" : ": " + rules.joined(separator: ", "))
        }
        var cases: [Case] = []
        if !r.cases.isEmpty {
            func inCase(_ f: Finding) -> Bool { r.cases.contains { f.seq >= ($0.firstSeq ?? .min) && f.seq <= $0.lastSeq } }
            for c in r.cases {
                let fs = r.findings.filter { $0.seq >= (c.firstSeq ?? .min) && $0.seq <= c.lastSeq }
                if c.violations > 0 {
                    cases.append(.init(name: c.name, className: cls, status: .failed,
                                       message: summary(fs, violations: c.violations), text: details(fs)))
                } else if c.result == CaseResult.unfinished {
                    cases.append(.init(name: c.name, className: cls, status: .skipped, message: "the trace ends before the case's result", text: details(fs)))
                } else if inconclusive {
                    cases.append(.init(name: c.name, className: cls, status: .skipped, message: skipReason, text: details(fs)))
                } else {
                    cases.append(.init(name: c.name, className: cls, status: .passed, systemOut: details(fs)))
                }
            }
            if r.outsideCases.findings > 0 {
                let fs = r.findings.filter { !inCase($0) }
                let name = "findings outside any case"
                if r.outsideCases.violations > 0 {
                    cases.append(.init(name: name, className: cls, status: .failed,
                                       message: summary(fs, violations: r.outsideCases.violations), text: details(fs)))
                } else if inconclusive {
                    cases.append(.init(name: name, className: cls, status: .skipped, message: skipReason, text: details(fs)))
                } else {
                    cases.append(.init(name: name, className: cls, status: .passed, systemOut: details(fs)))
                }
            }
        } else {
            for rule in Rule.allCases {
                let n = r.countsByRule[rule] ?? 0
                let fs = r.findings.filter { $0.rule == rule }
                if n > 0 && rule.severity == .violation {
                    cases.append(.init(name: rule.rawValue, className: cls, status: .failed,
                                       message: "\(n) finding\(n == 1 ? "" : "s"): \(rule.holdsWhen)", text: details(fs)))
                } else if inconclusive {
                    cases.append(.init(name: rule.rawValue, className: cls, status: .skipped, message: skipReason, text: details(fs)))
                } else {
                    cases.append(.init(name: rule.rawValue, className: cls, status: .passed, systemOut: details(fs)))
                }
            }
        }
        return Suite(name: traceName, properties: props, cases: cases)
    }
}
