"""html: a captive portal's login page instead of the answer."""
from . import ANSWER

ORDER = 60
KIND = ANSWER
SUMMARY = "answer 200 text/html: a captive-portal style login page"

LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - Network Access</title>
<style>
body { font-family: Arial, Helvetica, sans-serif; background: #f3f4f6; margin: 0; }
.box { max-width: 360px; margin: 80px auto; background: #fff; padding: 32px;
       border-radius: 6px; box-shadow: 0 1px 4px rgba(0,0,0,.2); }
h1 { font-size: 20px; margin-top: 0; }
input { width: 100%; padding: 8px; margin: 6px 0 14px; box-sizing: border-box; }
button { width: 100%; padding: 10px; background: #1a56db; color: #fff; border: 0; }
.note { color: #6b7280; font-size: 12px; margin-top: 18px; }
</style>
</head>
<body>
<div class="box">
  <h1>Authentication required</h1>
  <p>Your session has expired. Please sign in to continue to the requested resource.</p>
  <form method="post" action="/auth/login">
    <input type="hidden" name="redirect" value="/">
    <label for="u">Username</label>
    <input id="u" name="username" type="text" autocomplete="username">
    <label for="p">Password</label>
    <input id="p" name="password" type="password" autocomplete="current-password">
    <button type="submit">Sign in</button>
  </form>
  <p class="note">Unauthorized access is prohibited. Contact the IT service desk for help.</p>
</div>
</body>
</html>
"""


def serve(ex, step, rest):
    return ex.response(200, {"Content-Type": "text/html; charset=utf-8"}, LOGIN_PAGE)
