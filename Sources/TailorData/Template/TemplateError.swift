/// An error from compiling or rendering a chat template.
///
/// ``description`` is the message alone for ``Kind/raised`` (what the template passed to `raise_exception`,
/// as jinja2's `TemplateError` prints it), and `"<message> (line N)"` otherwise.
public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure.
    public enum Kind: Sendable, Equatable {
        /// The template source is not valid Jinja (or uses an unsupported construct).
        case syntax
        /// Rendering failed: a type error, an undefined value used where jinja2 fails, a bad call.
        case runtime
        /// The template called `raise_exception(message)`.
        case raised
        /// The template tried to reach outside itself (`include`, `import`, `extends`, unsafe methods).
        case security
        /// A resource limit was hit: output size, recursion depth or step budget.
        case limitExceeded
    }

    /// The class of failure.
    public let kind: Kind
    /// The message, without position.
    public let message: String
    /// The 1-based template line, when known.
    public let line: Int?

    public init(_ kind: Kind, _ message: String, line: Int? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
    }

    public var description: String {
        if kind == .raised { return message }
        if let line { return "\(message) (line \(line))" }
        return message
    }
}
