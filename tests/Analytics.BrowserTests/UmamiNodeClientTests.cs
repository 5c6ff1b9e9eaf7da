using System.Text.Json;
using Analytics.BrowserTests.Infrastructure;
using Analytics.Tests.Infrastructure;

namespace Analytics.BrowserTests;

/// <summary>Umami's own Node client (npm <c>@umami/node</c>) posting to our Umami-compatible endpoint.</summary>
public sealed class UmamiNodeClientTests(Servers servers, NodeClients clients)
{
    [Fact]
    public async Task UmamisNodeClientIsCounted()
    {
        await using var app = new TestApp(servers);
        var analytics = app.StartOnLoopback();
        var site = Servers.NewSiteId("um");
        var host = site + ".localhost";
        await app.CreateSiteAsync(site, domain: host);

        var pageview = await SendAsync(analytics, site, host, "pageview");
        var sent = pageview.GetProperty("sent");
        Assert.Equal(analytics.GetLeftPart(UriPartial.Authority) + "/api/send", sent.GetProperty("url").GetString());
        Assert.Equal("application/json", sent.GetProperty("headers").GetProperty("Content-Type").GetString());
        using (var body = JsonDocument.Parse(sent.GetProperty("body").GetString()!))
        {
            Assert.Equal("event", body.RootElement.GetProperty("type").GetString());
            Assert.Equal(site, body.RootElement.GetProperty("payload").GetProperty("website").GetString());
            Assert.Equal("/pricing", body.RootElement.GetProperty("payload").GetProperty("url").GetString());
        }

        var counts = await app.CountsAsync(site);
        Assert.Equal(1, counts.Total);
        Assert.Equal(1, counts.ViewsOn(counts.Today));
        var day = RedisCounters.Day(counts);
        Assert.Equal(new Dictionary<string, long> { ["/pricing"] = 1 }, await RedisCounters.PagesAsync(servers, site, day));
        Assert.Equal(new Dictionary<string, long> { ["google.com"] = 1 }, await RedisCounters.ReferrersAsync(servers, site, day));

        // A named event on the page, and identify: taken, not views.
        await SendAsync(analytics, site, host, "event-on-page");
        await SendAsync(analytics, site, host, "identify");

        counts = await app.CountsAsync(site);
        Assert.Equal(1, counts.Total);
        Assert.Equal(1, counts.ViewsOn(counts.Today));
        Assert.Equal(new Dictionary<string, long> { ["/pricing"] = 1 }, await RedisCounters.PagesAsync(servers, site, day));
    }

    /// <summary>
    /// The client's event API, <c>umami.track('signup', data)</c>, sends only
    /// <c>{"website","name","data"}</c>: no hostname and no url. It is still an Umami event with a
    /// name, which the service takes (202) and does not count as a view.
    /// </summary>
    [Fact]
    public async Task UmamisNodeClientNamedEventWithoutAPageIsTakenAndNotCounted()
    {
        await using var app = new TestApp(servers);
        var analytics = app.StartOnLoopback();
        var site = Servers.NewSiteId("um");
        var host = site + ".localhost";
        await app.CreateSiteAsync(site, domain: host);
        await SendAsync(analytics, site, host, "pageview");

        var result = await SendAsync(analytics, site, host, "event");

        using (var body = JsonDocument.Parse(result.GetProperty("sent").GetProperty("body").GetString()!))
        {
            var payload = body.RootElement.GetProperty("payload");
            Assert.Equal("signup", payload.GetProperty("name").GetString());
            Assert.False(payload.TryGetProperty("url", out _));
            Assert.False(payload.TryGetProperty("hostname", out _));
        }

        var counts = await app.CountsAsync(site);
        Assert.Equal(1, counts.Total);
        Assert.Equal(1, counts.ViewsOn(counts.Today));
    }

    /// <summary>Runs one step of clients/umami-client.mjs and checks that the service accepted it.</summary>
    private async Task<JsonElement> SendAsync(Uri analytics, string site, string host, string step)
    {
        var run = await clients.RunAsync("node", ["umami-client.mjs", analytics.GetLeftPart(UriPartial.Authority), site, host, step]);
        Assert.True(run.ExitCode == 0, $"node umami-client.mjs {step} failed ({run.ExitCode}):\n{run.Output}\n{run.Error}");
        TestContext.Current.TestOutputHelper?.WriteLine($"{step}: {run.Output.Trim()}");
        var result = JsonDocument.Parse(run.Output).RootElement.Clone();
        Assert.True(result.GetProperty("status").GetInt32() == 202, $"{step}: expected 202, got {result}");
        Assert.StartsWith("application/json", result.GetProperty("contentType").GetString(), StringComparison.Ordinal);
        return result;
    }
}
