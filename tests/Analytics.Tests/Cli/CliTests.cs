using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Cli;

public sealed class CliTests(Servers servers)
{
    [Theory]
    [InlineData("site", "list")]
    [InlineData("serv")]
    public async Task AWordThatIsNoCommandIsRefusedAndStartsNoServer(params string[] args)
    {
        var result = await Infrastructure.Cli.RunAsync(args).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(args[0], result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", result.Output + result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SitesAddCreatesASiteTheServerCountsFor()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("cli");

        var added = await Infrastructure.Cli.RunAsync("sites", "add", site, "--domain", "example.com", "--time-zone", "Europe/Istanbul", "--public-counter", "--redis", servers.RedisConnection);

        Assert.True(added.ExitCode == 0, added.Error);
        var ingestKey = added.Output.Split("shown only now): ")[1].Trim();
        using var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/", UriKind.Relative))).StatusCode);
        using var batch = new HttpRequestMessage(HttpMethod.Post, "/api/events") { Content = Http.Json("""[{"url":"https://example.com/x"}]""") };
        batch.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ingestKey);
        Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(batch)).StatusCode);
        var counts = await app.CountsAsync(site, client: client);
        Assert.Equal("Europe/Istanbul", counts.TimeZone);
        Assert.Equal(2, counts.Total);

        var list = await Infrastructure.Cli.RunAsync("sites", "list", "--redis", servers.RedisConnection);
        Assert.Contains(site, list.Output, StringComparison.Ordinal);

        var again = await Infrastructure.Cli.RunAsync("sites", "add", site, "--domain", "example.com", "--redis", servers.RedisConnection);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("already", again.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SitesUpdateAndRotateKeyChangeWhatTheServerSees()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("cli");
        var oldKey = await app.CreateSiteAsync(site, domain: "example.com", publicCounter: false);
        var redis = servers.RedisConnection;

        var updated = await Infrastructure.Cli.RunAsync("sites", "update", site, "--domain", "example.org", "--public-counter", "true", "--redis", redis);
        Assert.True(updated.ExitCode == 0, updated.Error);
        var rotated = await Infrastructure.Cli.RunAsync("sites", "rotate-key", site, "--redis", redis);
        Assert.True(rotated.ExitCode == 0, rotated.Error);
        var newKey = rotated.Output.Split("shown only now): ")[1].Trim();

        using var client = app.CreateClient();
        // The server answers from its cached site list and hears of changes over Redis pub/sub:
        // wait (at most 5 s) until the counter it now serves publicly says it has.
        var counts = new Uri($"/api/sites/{site}/counts", UriKind.Relative);
        for (var i = 0; i < 50 && (await client.GetAsync(counts)).StatusCode != HttpStatusCode.OK; i++)
        {
            await Task.Delay(100);
        }

        await Http.AssertProblemAsync(await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/", UriKind.Relative)), HttpStatusCode.BadRequest, "u");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.org/", UriKind.Relative))).StatusCode);
        foreach (var (key, status) in new[] { (oldKey, HttpStatusCode.Unauthorized), (newKey, HttpStatusCode.Accepted) })
        {
            using var batch = new HttpRequestMessage(HttpMethod.Post, "/api/events") { Content = Http.Json("""[{"url":"https://example.org/x"}]""") };
            batch.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            Assert.Equal(status, (await client.SendAsync(batch)).StatusCode);
        }

        Assert.Equal(2, (await app.CountsAsync(site, client: client)).Total);

        var bad = await Infrastructure.Cli.RunAsync("sites", "update", site, "--time-zone", "Mars/Olympus_Mons", "--redis", redis);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("timeZone", bad.Error, StringComparison.Ordinal);
        var missing = await Infrastructure.Cli.RunAsync("sites", "rotate-key", "no-such-site-here", "--redis", redis);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("no site", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsersAndTokensFromTheCliCanSignInAndRead()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("cli");
        await app.CreateSiteAsync(site, publicCounter: false);
        var name = "cli-" + Guid.NewGuid().ToString("N")[..8];

        var user = await Infrastructure.Cli.RunAsync("users", "add", name, "--password", "a long passphrase", "--role", "viewer", "--site", site, "--redis", servers.RedisConnection);
        Assert.True(user.ExitCode == 0, user.Error);
        var token = await Infrastructure.Cli.RunAsync("tokens", "add", "export", "--site", site, "--redis", servers.RedisConnection);
        Assert.True(token.ExitCode == 0, token.Error);

        using var viewer = app.CreateClient(new() { HandleCookies = true });
        Assert.Equal(HttpStatusCode.OK, (await viewer.PostAsJsonAsync("/api/login", new { name, password = "a long passphrase" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(new Uri($"/api/sites/{site}/counts", UriKind.Relative))).StatusCode);
        using var api = app.WithBearer(token.Output.Trim());
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(new Uri($"/api/sites/{site}/counts", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task UsersUpdateChangesPasswordAndSitesAsTheApiDoes()
    {
        await using var app = new TestApp(servers);
        var (siteA, siteB) = (Servers.NewSiteId("cli"), Servers.NewSiteId("cli"));
        await app.CreateSiteAsync(siteA, publicCounter: false);
        await app.CreateSiteAsync(siteB, publicCounter: false);
        var name = "cli-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(0, (await Infrastructure.Cli.RunAsync("users", "add", name, "--password", "a long passphrase", "--site", siteA, "--redis", servers.RedisConnection)).ExitCode);
        using var signedIn = app.CreateClient(new() { HandleCookies = true });
        Assert.Equal(HttpStatusCode.OK, (await signedIn.PostAsJsonAsync("/api/login", new { name, password = "a long passphrase" })).StatusCode);

        var changed = await Infrastructure.Cli.RunAsync("users", "update", name, "--password", "another passphrase", "--site", siteB, "--redis", servers.RedisConnection);

        Assert.True(changed.ExitCode == 0, changed.Error);
        Assert.Contains(siteB, changed.Output, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await signedIn.GetAsync(new Uri("/api/me", UriKind.Relative))).StatusCode);
        using var again = app.CreateClient(new() { HandleCookies = true });
        Assert.Equal(HttpStatusCode.OK, (await again.PostAsJsonAsync("/api/login", new { name, password = "another passphrase" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync(new Uri($"/api/sites/{siteB}/counts", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await again.GetAsync(new Uri($"/api/sites/{siteA}/counts", UriKind.Relative))).StatusCode);

        // Nothing to change, no such user, no such site, a short password: one line each, nothing changed.
        foreach (var (args, says) in new (string[] Args, string Says)[]
        {
            (["users", "update", name], "Say what to change"),
            (["users", "update", "nobody-of-that-name", "--no-sites"], "no user"),
            (["users", "update", name, "--site", "no-such-site-here"], "no site"),
            (["users", "update", name, "--password", "short"], "password"),
            (["users", "update", name, "--site", siteA, "--no-sites"], "contradict"),
        })
        {
            var refused = await Infrastructure.Cli.RunAsync([.. args, "--redis", servers.RedisConnection]);
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains(says, refused.Error, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync(new Uri($"/api/sites/{siteB}/counts", UriKind.Relative))).StatusCode);

        // --password alone takes it from ANALYTICS_PASSWORD (else the terminal), off the command line.
        var fromEnvironment = await Infrastructure.Cli.RunAsync(new Dictionary<string, string> { ["ANALYTICS_PASSWORD"] = "third passphrase" },
            "users", "update", name, "--password", "--redis", servers.RedisConnection);
        Assert.True(fromEnvironment.ExitCode == 0, fromEnvironment.Error);
        using var third = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await third.PostAsJsonAsync("/api/login", new { name, password = "third passphrase" })).StatusCode);
    }

    [Fact]
    public async Task BadArgumentsAreExplainedAndHelpListsTheCommands()
    {
        var help = await Infrastructure.Cli.RunAsync("--help");
        Assert.Equal(0, help.ExitCode);
        foreach (var command in new[] { "serve", "run", "sites", "users", "tokens" })
        {
            Assert.Contains(command, help.Output, StringComparison.Ordinal);
        }

        var badId = await Infrastructure.Cli.RunAsync("sites", "add", "Not_Valid", "--domain", "example.com", "--redis", servers.RedisConnection);
        Assert.NotEqual(0, badId.ExitCode);
        Assert.Contains("id", badId.Error, StringComparison.Ordinal);

        var badZone = await Infrastructure.Cli.RunAsync("sites", "add", Servers.NewSiteId(), "--domain", "example.com", "--time-zone", "Nowhere/Land", "--redis", servers.RedisConnection);
        Assert.NotEqual(0, badZone.ExitCode);
        Assert.Contains("timeZone", badZone.Error, StringComparison.Ordinal);

        var shortPassword = await Infrastructure.Cli.RunAsync("users", "add", "someone", "--password", "short", "--redis", servers.RedisConnection);
        Assert.NotEqual(0, shortPassword.ExitCode);
        Assert.Contains("password", shortPassword.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServersAwayAndBadTargetsAreOneLineErrorsNotStackTraces()
    {
        var site = Servers.NewSiteId("cli");
        (await Infrastructure.Cli.RunAsync("sites", "add", site, "--domain", "example.com", "--redis", servers.RedisConnection)).AssertSucceeded();

        foreach (var args in new[]
        {
            new[] { "sites", "list", "--redis", "127.0.0.1:1" },
            ["export", "--site", site, "--redis", "127.0.0.1:1"],
            ["reconcile", "--site", site, "--redis", "127.0.0.1:1"],
        })
        {
            var failed = await Infrastructure.Cli.RunAsync(args);
            Assert.Equal(1, failed.ExitCode);
            Assert.StartsWith("Redis is unreachable", failed.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", failed.Error, StringComparison.Ordinal);
        }

        var clickHouseAway = await Infrastructure.Cli.RunAsync("export", "--site", site, "--from", "2026-01-01", "--to", "2026-01-02", "--redis", servers.RedisConnection, "--clickhouse", "Host=127.0.0.1;Port=1;Username=default");
        Assert.Equal(1, clickHouseAway.ExitCode);
        Assert.Contains("ClickHouse is unreachable", clickHouseAway.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", clickHouseAway.Error, StringComparison.Ordinal);

        var folder = Directory.CreateTempSubdirectory("analytics-out-");
        var intoFolder = await Infrastructure.Cli.RunAsync("export", "--site", site, "--out", folder.FullName, "--redis", servers.RedisConnection, "--clickhouse", servers.ClickHouseConnection);
        Assert.NotEqual(0, intoFolder.ExitCode);
        Assert.Contains("is a folder", intoFolder.Error, StringComparison.Ordinal);
        var target = Path.Combine(folder.FullName, "report.csv");
        var interrupted = await Infrastructure.Cli.RunAsync("export", "--site", site, "--from", "2026-01-01", "--to", "2026-01-02", "--out", target, "--redis", servers.RedisConnection, "--clickhouse", "Host=127.0.0.1;Port=1;Username=default");
        Assert.NotEqual(0, interrupted.ExitCode);
        Assert.Empty(folder.GetFiles());
        folder.Delete(recursive: true);

        // Options before the command are the command's too: this lists sites, it does not start a server.
        var listed = await Infrastructure.Cli.RunAsync("--redis", servers.RedisConnection, "sites", "list");
        listed.AssertSucceeded();
        Assert.Contains(site, listed.Output, StringComparison.Ordinal);
    }
}
