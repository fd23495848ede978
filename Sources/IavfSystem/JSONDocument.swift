import Foundation

/// A result document (suite.json, stress.json, downup.json, ...): written and read back
/// through its own `Codable` type, pretty-printed with sorted keys so diffs stay readable.
public protocol JSONDocument: Codable {}

extension JSONDocument {
    public func encoded() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(self)
    }

    public static func decode(_ data: Data) throws -> Self { try JSONDecoder().decode(Self.self, from: data) }
}
