from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class MessageCursorPagination(CursorPagination):
    """Stable under new messages: a cursor, not a page number, over ids."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "id"
