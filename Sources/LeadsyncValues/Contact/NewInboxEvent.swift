/// What intake hands to the inbox: one webhook, as received, with what intake read from it.
public struct NewInboxEvent: Sendable, Equatable {
    public var webhookId: String?
    public var contactId: String
    public var eventType: String
    public var source: String
    public var body: String

    public init(webhookId: String?, contactId: String, eventType: String, source: String, body: String) {
        self.webhookId = webhookId
        self.contactId = contactId
        self.eventType = eventType
        self.source = source
        self.body = body
    }
}
