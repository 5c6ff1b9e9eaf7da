using System.Net;
using System.Net.Http.Json;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Staff;

/// <summary>No user, the wrong user and the wrong site, on every staff endpoint.</summary>
public sealed class AccessTests(Servers servers)
{
    private sealed record Setup(TestApp App, string SiteA, string SiteB, string ViewerA, string TokenA);

    private static async Task<Setup> SetUpAsync(Servers servers)
    {
        var app = new TestApp(servers);
        var siteA = Servers.NewSiteId("a");
        var siteB = Servers.NewSiteId("b");
        await app.CreateSiteAsync(siteA, publicCounter: false);
        await app.CreateSiteAsync(siteB, publicCounter: false);
        var viewer = "viewer-" + Guid.NewGuid().ToString("N")[..8];
        using var admin = app.Admin();
        (await admin.PostAsJsonAsync("/api/users", new { name = viewer, password = "correct horse battery", role = "viewer", sites = new[] { siteA } })).EnsureSuccessStatusCode();
        using var tokenResponse = await admin.PostAsJsonAsync("/api/tokens", new { name = "reports", sites = new[] { siteA } });
        Assert.Equal(HttpStatusCode.Created, tokenResponse.StatusCode);
        var token = (await tokenResponse.ReadJsonAsync()).GetProperty("token").GetString()!;
        return new Setup(app, siteA, siteB, viewer, token);
    }

    private static async Task<HttpClient> LoginAsync(TestApp app, string name, string password = "correct horse battery")
    {
        var client = app.CreateClient(new() { HandleCookies = true });
        using var response = await client.PostAsJsonAsync("/api/login", new { name, password });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return client;
    }

    [Fact]
    public async Task ViewerSeesTheirSiteAndIsForbiddenTheOther()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var viewer = await LoginAsync(app, s.ViewerA);

        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(new Uri($"/api/sites/{s.SiteA}/counts", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(new Uri($"/api/sites/{s.SiteA}", UriKind.Relative))).StatusCode);
        await Http.AssertProblemAsync(await viewer.GetAsync(new Uri($"/api/sites/{s.SiteB}/counts", UriKind.Relative)), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await viewer.GetAsync(new Uri($"/api/sites/{s.SiteB}", UriKind.Relative)), HttpStatusCode.Forbidden);

        var listed = await viewer.GetFromJsonAsync<List<System.Text.Json.JsonElement>>("/api/sites");
        Assert.Equal([s.SiteA], listed!.Select(e => e.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task ViewerCannotAdminister()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var viewer = await LoginAsync(app, s.ViewerA);

        await Http.AssertProblemAsync(await viewer.PostAsJsonAsync("/api/sites", new { id = Servers.NewSiteId(), domains = new[] { "example.com" } }), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await viewer.PatchAsJsonAsync($"/api/sites/{s.SiteA}", new { publicCounter = true }), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await viewer.DeleteAsync(new Uri($"/api/sites/{s.SiteA}", UriKind.Relative)), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await viewer.PostAsJsonAsync("/api/users", new { name = "mallory", password = "12345678", role = "admin" }), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await viewer.PostAsJsonAsync("/api/tokens", new { name = "sneaky", sites = new[] { s.SiteB } }), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.Created, (await viewer.PostAsJsonAsync("/api/tokens", new { name = "mine", sites = new[] { s.SiteA } })).StatusCode);
    }

    [Fact]
    public async Task NoCredentialsGets401OnEveryStaffEndpoint()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var anonymous = app.CreateClient();

        HttpRequestMessage[] requests =
        [
            new(HttpMethod.Get, "/api/sites"),
            new(HttpMethod.Post, "/api/sites") { Content = Http.Json(new { id = "x", domains = new[] { "example.com" } }) },
            new(HttpMethod.Get, $"/api/sites/{s.SiteA}"),
            new(HttpMethod.Patch, $"/api/sites/{s.SiteA}") { Content = Http.Json(new { publicCounter = true }) },
            new(HttpMethod.Delete, $"/api/sites/{s.SiteA}"),
            new(HttpMethod.Get, $"/api/sites/{s.SiteA}/counts"),
            new(HttpMethod.Post, "/api/users") { Content = Http.Json(new { name = "x", password = "12345678" }) },
            new(HttpMethod.Get, "/api/users"),
            new(HttpMethod.Post, "/api/tokens") { Content = Http.Json(new { name = "x", sites = new[] { s.SiteA } }) },
            new(HttpMethod.Get, "/api/me"),
        ];
        foreach (var request in requests)
        {
            using var response = await anonymous.SendAsync(request);
            await Http.AssertProblemAsync(response, HttpStatusCode.Unauthorized);
        }

        using var badToken = app.WithBearer("not-a-token");
        await Http.AssertProblemAsync(await badToken.GetAsync(new Uri($"/api/sites/{s.SiteA}/counts", UriKind.Relative)), HttpStatusCode.Unauthorized);
        await Http.AssertProblemAsync(await badToken.GetAsync(new Uri("/api/sites", UriKind.Relative)), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task ApiTokenReadsItsSitesOnly()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var token = app.WithBearer(s.TokenA);

        Assert.Equal(HttpStatusCode.OK, (await token.GetAsync(new Uri($"/api/sites/{s.SiteA}/counts", UriKind.Relative))).StatusCode);
        await Http.AssertProblemAsync(await token.GetAsync(new Uri($"/api/sites/{s.SiteB}/counts", UriKind.Relative)), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await token.PostAsJsonAsync("/api/sites", new { id = Servers.NewSiteId(), domains = new[] { "example.com" } }), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await token.PostAsJsonAsync("/api/tokens", new { name = "more", sites = new[] { s.SiteA } }), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task PublicCounterIsReadableByAnyoneOnlyWhenEnabled()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var anonymous = app.CreateClient();
        await Http.AssertProblemAsync(await anonymous.GetAsync(new Uri($"/api/sites/{s.SiteA}/counts", UriKind.Relative)), HttpStatusCode.Unauthorized);

        using var admin = app.Admin();
        (await admin.PatchAsJsonAsync($"/api/sites/{s.SiteA}", new { publicCounter = true })).EnsureSuccessStatusCode();

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/sites/{s.SiteA}/counts?days=5");
        request.Headers.Add("Origin", "https://news.example.org");
        using var response = await anonymous.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal(5, (await response.ReadJsonAsync()).GetProperty("days").GetArrayLength());
    }

    [Fact]
    public async Task LogoutEndsTheSessionAndWrongPasswordsAreRefused()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var anonymous = app.CreateClient();
        await Http.AssertProblemAsync(await anonymous.PostAsJsonAsync("/api/login", new { name = s.ViewerA, password = "wrong password" }), HttpStatusCode.Unauthorized);
        await Http.AssertProblemAsync(await anonymous.PostAsJsonAsync("/api/login", new { name = "nobody", password = "whatever1" }), HttpStatusCode.Unauthorized);

        using var viewer = await LoginAsync(app, s.ViewerA);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(new Uri("/api/me", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await viewer.PostAsync(new Uri("/api/logout", UriKind.Relative), null)).StatusCode);
        await Http.AssertProblemAsync(await viewer.GetAsync(new Uri("/api/me", UriKind.Relative)), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task AStaffCookieCountsOnlyOnRequestsFromTheServicesOwnPages()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        var boss = "boss-" + Guid.NewGuid().ToString("N")[..8];
        using (var admin = app.Admin())
        {
            (await admin.PostAsJsonAsync("/api/users", new { name = boss, password = "correct horse battery", role = "admin" })).EnsureSuccessStatusCode();
        }

        using var signedIn = await LoginAsync(app, boss);
        var rotate = new Uri($"/api/sites/{s.SiteA}/ingest-key", UriKind.Relative);
        async Task<HttpResponseMessage> PostAsync(Uri uri, string header, string value)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new FormUrlEncodedContent([]) };
            request.Headers.Add(header, value);
            return await signedIn.SendAsync(request);
        }

        // From the dashboard: the browser says same-origin, or (older browsers) names this host as Origin.
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(rotate, "Sec-Fetch-Site", "same-origin")).StatusCode);
        using var rotated = await PostAsync(rotate, "Origin", app.Server.BaseAddress.GetLeftPart(UriPartial.Authority));
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        var key = (await rotated.ReadJsonAsync()).GetProperty("ingestKey").GetString()!;

        // A form on another page of the same site (say the tracked site's own subdomain), which the
        // browser sends with the cookie, SameSite=Strict notwithstanding: not signed in, key unchanged.
        foreach (var (header, value) in new[] { ("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Site", "cross-site"), ("Origin", "https://www.example.com"), ("Origin", "null") })
        {
            await Http.AssertProblemAsync(await PostAsync(rotate, header, value), HttpStatusCode.Unauthorized);
        }

        await app.SendBatchAsync(key, [("https://example.com/still-the-key", null)]);

        // Nor can such a page sign staff out.
        await Http.AssertProblemAsync(await PostAsync(new Uri("/api/logout", UriKind.Relative), "Sec-Fetch-Site", "same-site"), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await signedIn.GetAsync(new Uri("/api/me", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task TheDashboardCannotBeFramedAndRunsOnlyItsOwnScripts()
    {
        await using var app = new TestApp(servers);
        using var client = app.CreateClient();

        using var dashboard = await client.GetAsync(new Uri("/dashboard", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        var policy = dashboard.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.Contains("script-src 'self';", policy, StringComparison.Ordinal);
        Assert.Equal("DENY", dashboard.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-referrer", dashboard.Headers.GetValues("Referrer-Policy").Single());

        // Nothing is served for a browser to sniff into another type.
        foreach (var path in new[] { "/dashboard", "/api/me", "/api/sites/nosuch/counts", "/live/dashboard.js", "/p.gif?s=nosuch&u=https%3A%2F%2Fexample.com%2F", "/p.gif?u=https%3A%2F%2Fexample.com%2F" })
        {
            using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        }

        using var postToPixel = await client.PostAsync(new Uri("/p.gif", UriKind.Relative), new StringContent(""));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, postToPixel.StatusCode);
        Assert.Equal("nosniff", postToPixel.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task ParallelGuessesCannotSlipPastTheSignInLimit()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var guesser = ClientFrom(app, "198.51.100.77");

        var statuses = await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
            (await guesser.PostAsJsonAsync("/api/login", new { name = i % 2 == 0 ? s.ViewerA : "nobody-" + i, password = $"guess {i}" })).StatusCode));

        Assert.Equal(LoginThrottleLimit, statuses.Count(c => c == HttpStatusCode.Unauthorized));
        Assert.Equal(30 - LoginThrottleLimit, statuses.Count(c => c == HttpStatusCode.TooManyRequests));
    }

    private const int LoginThrottleLimit = Analytics.Staff.LoginThrottle.FailuresPerMinute;

    [Fact]
    public async Task ParallelSignInsWithTheRightPasswordAllSucceed()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var scripts = ClientFrom(app, "198.51.100.78");

        // More at once than the failure allowance: they wait for places, none is refused.
        var statuses = await Task.WhenAll(Enumerable.Range(0, 3 * LoginThrottleLimit).Select(async _ =>
            (await scripts.PostAsJsonAsync("/api/login", new { name = s.ViewerA, password = "correct horse battery" })).StatusCode));

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
    }

    [Fact]
    public async Task GuessesAmongParallelSignInsStillStopAtTheLimit()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var client = ClientFrom(app, "198.51.100.79");

        var attempts = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            var right = i % 2 == 0;
            var response = await client.PostAsJsonAsync("/api/login", new { name = s.ViewerA, password = right ? "correct horse battery" : $"guess {i}" });
            return (right, response.StatusCode);
        }));

        // Never more than the allowance of wrong passwords gets checked; right ones that come after it wait the minute too.
        Assert.Equal(LoginThrottleLimit, attempts.Count(a => !a.right && a.StatusCode == HttpStatusCode.Unauthorized));
        Assert.All(attempts, a => Assert.Contains(a.StatusCode, new[] { a.right ? HttpStatusCode.OK : HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests }));
    }

    /// <summary>A client at this address (as a proxy on this machine says).</summary>
    private static HttpClient ClientFrom(TestApp app, string address)
    {
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Add("X-Forwarded-For", address);
        return client;
    }

    [Fact]
    public async Task FailedSignInsAreLimitedPerAddress()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var guesser = ClientFrom(app, "198.51.100.99");

        // Signing in successfully, however often, uses up nothing.
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await guesser.PostAsJsonAsync("/api/login", new { name = s.ViewerA, password = "correct horse battery" })).StatusCode);
        }

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 12; i++)
        {
            statuses.Add((await guesser.PostAsJsonAsync("/api/login", new { name = s.ViewerA, password = $"guess {i}" })).StatusCode);
        }

        Assert.Equal(Enumerable.Repeat(HttpStatusCode.Unauthorized, 10), statuses.Take(10));
        Assert.Equal([HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses.Skip(10));
        // Even the right password waits; another address is not held back.
        await Http.AssertProblemAsync(await guesser.PostAsJsonAsync("/api/login", new { name = s.ViewerA, password = "correct horse battery" }), HttpStatusCode.TooManyRequests);
        using var other = ClientFrom(app, "198.51.100.100");
        Assert.Equal(HttpStatusCode.OK, (await other.PostAsJsonAsync("/api/login", new { name = s.ViewerA, password = "correct horse battery" })).StatusCode);
    }

    [Fact]
    public async Task AnAdminChangesAUsersSitesRoleAndPasswordAndTheyTakeEffectAtOnce()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var admin = app.Admin();
        using var viewer = await LoginAsync(app, s.ViewerA);
        using var made = await viewer.PostAsJsonAsync("/api/tokens", new { name = "mine", sites = new[] { s.SiteA } });
        using var viewersToken = app.WithBearer((await made.ReadJsonAsync()).GetProperty("token").GetString()!);
        var user = new Uri($"/api/users/{s.ViewerA}", UriKind.Relative);
        Uri Counts(string site) => new($"/api/sites/{site}/counts", UriKind.Relative);

        // Sites: the open session sees the new list on its next request.
        using var moved = await admin.PatchAsJsonAsync(user, new { sites = new[] { s.SiteB } });
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal([s.SiteB], (await moved.ReadJsonAsync()).GetProperty("sites").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(Counts(s.SiteB))).StatusCode);
        await Http.AssertProblemAsync(await viewer.GetAsync(Counts(s.SiteA)), HttpStatusCode.Forbidden);
        // The token reads only what its maker still may.
        await Http.AssertProblemAsync(await viewersToken.GetAsync(Counts(s.SiteA)), HttpStatusCode.Forbidden);

        // Role: now an admin, without signing in again.
        Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync(user, new { role = "admin" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(new Uri("/api/users", UriKind.Relative))).StatusCode);
        Assert.Equal("admin", (await admin.GetFromJsonAsync<System.Text.Json.JsonElement>(user)).GetProperty("role").GetString());

        // Password: the old one and the sessions signed in with it stop; the token stays.
        Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync(user, new { password = "a brand new passphrase", role = "viewer", sites = new[] { s.SiteA } })).StatusCode);
        await Http.AssertProblemAsync(await viewer.GetAsync(new Uri("/api/me", UriKind.Relative)), HttpStatusCode.Unauthorized);
        using var anon = app.CreateClient();
        await Http.AssertProblemAsync(await anon.PostAsJsonAsync("/api/login", new { name = s.ViewerA, password = "correct horse battery" }), HttpStatusCode.Unauthorized);
        using var again = await LoginAsync(app, s.ViewerA, "a brand new passphrase");
        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync(Counts(s.SiteA))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewersToken.GetAsync(Counts(s.SiteA))).StatusCode);
    }

    [Fact]
    public async Task StaffChangeTheirOwnPasswordGivingTheCurrentOne()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var here = await LoginAsync(app, s.ViewerA);
        using var elsewhere = await LoginAsync(app, s.ViewerA);
        var change = new Uri("/api/me/password", UriKind.Relative);
        var me = new Uri("/api/me", UriKind.Relative);

        // Wrong or missing parts change nothing.
        await Http.AssertProblemAsync(await here.PostAsJsonAsync(change, new { currentPassword = "not it at all", newPassword = "a brand new passphrase" }), HttpStatusCode.BadRequest, "currentPassword");
        await Http.AssertProblemAsync(await here.PostAsJsonAsync(change, new { newPassword = "a brand new passphrase" }), HttpStatusCode.BadRequest, "currentPassword");
        await Http.AssertProblemAsync(await here.PostAsJsonAsync(change, new { currentPassword = "correct horse battery", newPassword = "short" }), HttpStatusCode.BadRequest, "newPassword");
        Assert.Equal(HttpStatusCode.OK, (await elsewhere.GetAsync(me)).StatusCode);

        // Credentials without a password of their own, and none at all, may not.
        using var token = app.WithBearer(s.TokenA);
        using var admin = app.Admin();
        using var anon = app.CreateClient();
        var body = new { currentPassword = "correct horse battery", newPassword = "a brand new passphrase" };
        await Http.AssertProblemAsync(await token.PostAsJsonAsync(change, body), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await admin.PostAsJsonAsync(change, body), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await anon.PostAsJsonAsync(change, body), HttpStatusCode.Unauthorized);

        // Done: this session goes on, the others end, the new password signs in and the old one not.
        Assert.Equal(HttpStatusCode.NoContent, (await here.PostAsJsonAsync(change, body)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await here.GetAsync(me)).StatusCode);
        await Http.AssertProblemAsync(await elsewhere.GetAsync(me), HttpStatusCode.Unauthorized);
        await Http.AssertProblemAsync(await anon.PostAsJsonAsync("/api/login", new { name = s.ViewerA, password = "correct horse battery" }), HttpStatusCode.Unauthorized);
        using var again = await LoginAsync(app, s.ViewerA, "a brand new passphrase");
        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync(new Uri($"/api/sites/{s.SiteA}/counts", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task OnlyOneOfRacingPasswordChangesWinsAndNoneUndoesAnother()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var session = await LoginAsync(app, s.ViewerA);

        // Six changes at once from one session: the first to land ends the session the others came
        // with, so they must not land after it (each would undo the one before and be told it worked).
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(async i =>
        {
            using var response = await session.PostAsJsonAsync("/api/me/password", new { currentPassword = "correct horse battery", newPassword = $"new passphrase {i}" });
            return (Password: $"new passphrase {i}", response.StatusCode);
        }));

        var won = Assert.Single(results, r => r.StatusCode == HttpStatusCode.NoContent);
        Assert.All(results.Where(r => r != won), r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        using var anon = app.CreateClient();
        foreach (var (password, _) in results)
        {
            var status = (await anon.PostAsJsonAsync("/api/login", new { name = s.ViewerA, password })).StatusCode;
            Assert.Equal(password == won.Password ? HttpStatusCode.OK : HttpStatusCode.Unauthorized, status);
        }
    }

    [Fact]
    public async Task GuessingTheCurrentPasswordIsLimitedLikeSigningIn()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var stolen = await LoginAsync(app, s.ViewerA);
        stolen.DefaultRequestHeaders.Add("X-Forwarded-For", "198.51.100.80");
        var change = new Uri("/api/me/password", UriKind.Relative);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < LoginThrottleLimit + 2; i++)
        {
            statuses.Add((await stolen.PostAsJsonAsync(change, new { currentPassword = $"guess {i}", newPassword = "taken over now" })).StatusCode);
        }

        Assert.Equal(Enumerable.Repeat(HttpStatusCode.BadRequest, LoginThrottleLimit), statuses.Take(LoginThrottleLimit));
        Assert.Equal([HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses.Skip(LoginThrottleLimit));
        using var owner = ClientFrom(app, "198.51.100.81");
        Assert.Equal(HttpStatusCode.OK, (await owner.PostAsJsonAsync("/api/login", new { name = s.ViewerA, password = "correct horse battery" })).StatusCode);
    }

    [Fact]
    public async Task ChangingAUserIsForAdminsAndBadChangesChangeNothing()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var admin = app.Admin();
        using var viewer = await LoginAsync(app, s.ViewerA);
        using var token = app.WithBearer(s.TokenA);
        using var anon = app.CreateClient();
        var user = new Uri($"/api/users/{s.ViewerA}", UriKind.Relative);

        await Http.AssertProblemAsync(await anon.PatchAsJsonAsync(user, new { role = "admin" }), HttpStatusCode.Unauthorized);
        await Http.AssertProblemAsync(await viewer.PatchAsJsonAsync(user, new { role = "admin" }), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await token.PatchAsJsonAsync(user, new { sites = new[] { s.SiteB } }), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await viewer.GetAsync(user), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await anon.GetAsync(user), HttpStatusCode.Unauthorized);

        await Http.AssertProblemAsync(await admin.PatchAsJsonAsync(user, new { password = "short" }), HttpStatusCode.BadRequest, "password");
        // Eight UTF-16 units, four characters.
        await Http.AssertProblemAsync(await admin.PatchAsJsonAsync(user, new { password = "😀😀😀😀" }), HttpStatusCode.BadRequest, "password");
        await Http.AssertProblemAsync(await admin.PatchAsJsonAsync(user, new { role = "owner" }), HttpStatusCode.BadRequest, "role");
        await Http.AssertProblemAsync(await admin.PatchAsJsonAsync(user, new { sites = new[] { s.SiteB, "no-such-site-here" } }), HttpStatusCode.BadRequest, "sites");
        await Http.AssertProblemAsync(await admin.PatchAsJsonAsync(user, new { }), HttpStatusCode.BadRequest);
        await Http.AssertProblemAsync(await admin.PatchAsJsonAsync(user, new { sites = "all" }), HttpStatusCode.BadRequest, "sites");
        await Http.AssertProblemAsync(await admin.PatchAsJsonAsync(new Uri("/api/users/nobody-of-that-name", UriKind.Relative), new { role = "admin" }), HttpStatusCode.NotFound);
        await Http.AssertProblemAsync(await admin.GetAsync(new Uri("/api/users/nobody-of-that-name", UriKind.Relative)), HttpStatusCode.NotFound);

        // Unchanged: same role, same sites, same password, same session.
        var unchanged = await admin.GetFromJsonAsync<System.Text.Json.JsonElement>(user);
        Assert.Equal("viewer", unchanged.GetProperty("role").GetString());
        Assert.Equal([s.SiteA], unchanged.GetProperty("sites").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(new Uri("/api/me", UriKind.Relative))).StatusCode);
        await Http.AssertProblemAsync(await viewer.GetAsync(new Uri($"/api/sites/{s.SiteB}/counts", UriKind.Relative)), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task DeletedUsersSessionsAndTokensStopAndDoNotComeBackWithTheName()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var admin = app.Admin();
        using var viewer = await LoginAsync(app, s.ViewerA);
        using var made = await viewer.PostAsJsonAsync("/api/tokens", new { name = "mine", sites = new[] { s.SiteA } });
        Assert.Equal(HttpStatusCode.Created, made.StatusCode);
        using var viewersToken = app.WithBearer((await made.ReadJsonAsync()).GetProperty("token").GetString()!);
        var report = new Uri($"/api/sites/{s.SiteA}/reports/daily", UriKind.Relative);
        Assert.Equal(HttpStatusCode.OK, (await viewersToken.GetAsync(report)).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/users/{s.ViewerA}", UriKind.Relative))).StatusCode);
        await Http.AssertProblemAsync(await viewer.GetAsync(new Uri("/api/me", UriKind.Relative)), HttpStatusCode.Unauthorized);
        await Http.AssertProblemAsync(await viewersToken.GetAsync(report), HttpStatusCode.Unauthorized);

        // A new user of the same name is someone else: the old cookie and token stay dead.
        (await admin.PostAsJsonAsync("/api/users", new { name = s.ViewerA, password = "another long one", role = "viewer", sites = new[] { s.SiteA, s.SiteB } })).EnsureSuccessStatusCode();
        await Http.AssertProblemAsync(await viewer.GetAsync(new Uri("/api/me", UriKind.Relative)), HttpStatusCode.Unauthorized);
        await Http.AssertProblemAsync(await viewersToken.GetAsync(report), HttpStatusCode.Unauthorized);
        // The admin's token of SetUpAsync is not tied to any user and still works.
        using var adminsToken = app.WithBearer(s.TokenA);
        Assert.Equal(HttpStatusCode.OK, (await adminsToken.GetAsync(report)).StatusCode);
    }

    [Fact]
    public async Task TokensCanBeListedAndRevokedByTheirMakerOrAnAdmin()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var admin = app.Admin();
        using var viewer = await LoginAsync(app, s.ViewerA);
        using var made = await viewer.PostAsJsonAsync("/api/tokens", new { name = "mine", sites = new[] { s.SiteA } });
        var created = await made.ReadJsonAsync();
        var id = created.GetProperty("id").GetString()!;
        using var viewersToken = app.WithBearer(created.GetProperty("token").GetString()!);
        var counts = new Uri($"/api/sites/{s.SiteA}/counts", UriKind.Relative);
        Assert.Equal(HttpStatusCode.OK, (await viewersToken.GetAsync(counts)).StatusCode);

        // The viewer lists only their own; the admin lists all, and neither list holds a secret.
        var theirs = await (await viewer.GetAsync(new Uri("/api/tokens", UriKind.Relative))).ReadJsonAsync();
        Assert.Equal([id], theirs.EnumerateArray().Select(t => t.GetProperty("id").GetString()));
        var all = await (await admin.GetAsync(new Uri("/api/tokens", UriKind.Relative))).ReadJsonAsync();
        Assert.Contains(id, all.EnumerateArray().Select(t => t.GetProperty("id").GetString()));
        Assert.DoesNotContain(created.GetProperty("token").GetString()!, all.ToString(), StringComparison.Ordinal);
        var adminsId = all.EnumerateArray().Single(t => t.GetProperty("name").GetString() == "reports" && t.GetProperty("sites")[0].GetString() == s.SiteA).GetProperty("id").GetString()!;

        // Nobody removes what is not theirs; a token removes nothing; the maker removes theirs.
        await Http.AssertProblemAsync(await viewer.DeleteAsync(new Uri($"/api/tokens/{adminsId}", UriKind.Relative)), HttpStatusCode.NotFound);
        await Http.AssertProblemAsync(await viewersToken.DeleteAsync(new Uri($"/api/tokens/{id}", UriKind.Relative)), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await viewersToken.GetAsync(new Uri("/api/tokens", UriKind.Relative)), HttpStatusCode.Forbidden);
        using var anonymous = app.CreateClient();
        await Http.AssertProblemAsync(await anonymous.GetAsync(new Uri("/api/tokens", UriKind.Relative)), HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.NoContent, (await viewer.DeleteAsync(new Uri($"/api/tokens/{id}", UriKind.Relative))).StatusCode);
        await Http.AssertProblemAsync(await viewersToken.GetAsync(counts), HttpStatusCode.Unauthorized);
        await Http.AssertProblemAsync(await viewer.DeleteAsync(new Uri($"/api/tokens/{id}", UriKind.Relative)), HttpStatusCode.NotFound);

        // The admin removes any token.
        using var adminsToken = app.WithBearer(s.TokenA);
        Assert.Equal(HttpStatusCode.OK, (await adminsToken.GetAsync(counts)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/tokens/{adminsId}", UriKind.Relative))).StatusCode);
        await Http.AssertProblemAsync(await adminsToken.GetAsync(counts), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task ASiteDeletedAndMadeAgainIsNotReadableThroughOldAccess()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var admin = app.Admin();
        var name = "two-" + Guid.NewGuid().ToString("N")[..8];
        (await admin.PostAsJsonAsync("/api/users", new { name, password = "correct horse battery", role = "viewer", sites = new[] { s.SiteA, s.SiteB } })).EnsureSuccessStatusCode();
        using var viewer = await LoginAsync(app, name);
        using var made = await viewer.PostAsJsonAsync("/api/tokens", new { name = "both", sites = new[] { s.SiteA, s.SiteB } });
        using var token = app.WithBearer((await made.ReadJsonAsync()).GetProperty("token").GetString()!);
        var countsB = new Uri($"/api/sites/{s.SiteB}/counts", UriKind.Relative);
        Assert.Equal(HttpStatusCode.OK, (await token.GetAsync(countsB)).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync(new Uri($"/api/sites/{s.SiteB}", UriKind.Relative))).StatusCode);
        await app.CreateSiteAsync(s.SiteB, publicCounter: false);

        // Whoever gets the new site B is given it anew; what was given for the old one is gone.
        await Http.AssertProblemAsync(await viewer.GetAsync(countsB), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await token.GetAsync(countsB), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await token.GetAsync(new Uri($"/api/sites/{s.SiteA}/counts", UriKind.Relative))).StatusCode);
        var me = await (await viewer.GetAsync(new Uri("/api/me", UriKind.Relative))).ReadJsonAsync();
        Assert.Equal([s.SiteA], me.GetProperty("sites").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task TokenNameMustBePlainText()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        using var admin = app.Admin();

        using var response = await admin.PostAsJsonAsync("/api/tokens", new { name = "line\nbreak", sites = new[] { s.SiteA } });

        await Http.AssertProblemAsync(response, HttpStatusCode.BadRequest, "name");
    }

    [Fact]
    public async Task PasswordsAndTokensAreStoredHashed()
    {
        var s = await SetUpAsync(servers);
        await using var app = s.App;
        var db = servers.Redis.GetDatabase();

        var user = (string)(await db.HashGetAsync(Analytics.Counting.RedisKeys.Users, s.ViewerA))!;
        Assert.DoesNotContain("correct horse battery", user, StringComparison.Ordinal);
        Assert.Contains("pbkdf2-sha512$", user, StringComparison.Ordinal);
        var tokens = await db.HashGetAllAsync(Analytics.Counting.RedisKeys.Tokens);
        Assert.DoesNotContain(tokens, t => t.Name.ToString().Contains(s.TokenA, StringComparison.Ordinal) || t.Value.ToString().Contains(s.TokenA, StringComparison.Ordinal));
    }
}
