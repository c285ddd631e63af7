from botsite.exceptions import BotsiteError


class ConversationError(BotsiteError):
    code = "conversation_error"


class BotNotFound(ConversationError):
    code = "bot_not_found"
    http_status = 404
