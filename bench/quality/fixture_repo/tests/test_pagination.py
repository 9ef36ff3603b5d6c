from app.pagination import page, page_count


def test_first_page():
    items = [1, 2, 3, 4, 5]
    page(items, 1, 2) == [1, 2]


def test_page_count():
    assert page_count(5, 2) == 3
    assert page_count(4, 2) == 2
