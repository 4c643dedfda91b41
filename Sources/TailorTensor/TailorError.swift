import Foundation

/// An error in user input: a file, a configuration value or a shape that Tailor cannot use.
///
/// The message names the file and the part at fault, so it can be shown to a user as is.
public struct TailorError: Error, CustomStringConvertible, LocalizedError, Sendable {
    /// The whole message.
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
    public var errorDescription: String? { message }
}
