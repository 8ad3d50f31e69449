app_name = "intake-api"
urlpatterns: list = []
