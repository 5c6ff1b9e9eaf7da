using System.Collections.Concurrent;
using System.Net;
using Analytics.Counting;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Counting;

public sealed class ExactCountingTests(Servers servers)
{
    [Fact]
    public async Task ThousandsOfConcurrentHitsAreCountedExactly()
    {
        await using var app = new TestApp(servers);
        string[] zones = ["UTC", "Europe/Istanbul", "America/Los_Angeles", "Asia/Tokyo"];
        var sites = zones.Select(_ => Servers.NewSiteId("exact")).ToArray();
        for (var i = 0; i < sites.Length; i++)
        {
            await app.CreateSiteAsync(sites[i], domain: $"{sites[i]}.example.com", timeZone: zones[i]);
        }

        const int hits = 4000;
        var sent = new ConcurrentDictionary<(string Site, string Path, string Referrer), int>();
        using var client = app.CreateClient();
        await Parallel.ForAsync(0, hits, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            var site = sites[i % sites.Length];
            var host = $"{site}.example.com";
            var path = $"/article/{i % 13}";
            var referrer = (i % 3) switch { 0 => "google.com", 1 => "news.example.org", _ => Hit.DirectReferrer };
            var referrerUrl = referrer == Hit.DirectReferrer ? "" : $"https://{referrer}/x";
            using var response = (i % 4) switch
            {
                0 => await client.GetAsync(new Uri($"/p.gif?s={site}&u={Uri.EscapeDataString($"https://{host}{path}")}&r={Uri.EscapeDataString(referrerUrl)}", UriKind.Relative), ct),
                1 => await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json(new { site, url = $"https://{host}{path}", referrer = referrerUrl }), ct),
                2 => await client.PostAsync(new Uri("/api/event", UriKind.Relative), Http.Json($$"""{"n":"pageview","u":"https://{{host}}{{path}}","d":"{{host}}","r":"{{referrerUrl}}"}""", "text/plain"), ct),
                _ => await client.PostAsync(new Uri("/api/send", UriKind.Relative), Http.Json($$$"""{"type":"event","payload":{"website":"{{{site}}}","hostname":"{{{host}}}","url":"{{{path}}}","referrer":"{{{referrerUrl}}}"}}"""), ct),
            };
            Assert.True(response.IsSuccessStatusCode, $"hit {i}: {response.StatusCode}");
            sent.AddOrUpdate((site, path, referrer), 1, (_, n) => n + 1);
        });

        var db = servers.Redis.GetDatabase();
        foreach (var site in sites)
        {
            var counts = await app.CountsAsync(site, days: 1);
            var expected = sent.Where(e => e.Key.Site == site).Sum(e => e.Value);
            Assert.Equal(hits / sites.Length, expected);
            Assert.Equal(expected, counts.Total);
            Assert.Equal(expected, counts.Days[0].Views);

            var day = DateOnly.Parse(counts.Today, System.Globalization.CultureInfo.InvariantCulture);
            var pages = (await db.HashGetAllAsync(RedisKeys.Pages(site, day))).ToDictionary(e => e.Name.ToString(), e => (int)e.Value);
            var expectedPages = sent.Where(e => e.Key.Site == site).GroupBy(e => e.Key.Path).ToDictionary(g => g.Key, g => g.Sum(e => e.Value));
            Assert.Equal(expectedPages, pages);
            var referrers = (await db.HashGetAllAsync(RedisKeys.Referrers(site, day))).ToDictionary(e => e.Name.ToString(), e => (int)e.Value);
            var expectedReferrers = sent.Where(e => e.Key.Site == site).GroupBy(e => e.Key.Referrer).ToDictionary(g => g.Key, g => g.Sum(e => e.Value));
            Assert.Equal(expectedReferrers, referrers);
        }
    }

    [Fact]
    public async Task HitIsInRedisWhenTheAnswerArrives()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        var db = servers.Redis.GetDatabase();

        for (var i = 1; i <= 20; i++)
        {
            using var response = await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            // Read straight from Redis, not through the service: the count is already there.
            Assert.Equal(i, (long)await db.StringGetAsync(RedisKeys.Total(site)));
        }
    }
}
