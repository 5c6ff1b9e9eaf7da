using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Analytics.LoadTests.Load;

namespace Analytics.LoadTests.Stack;

/// <summary>Creates the run's sites through the service's admin API (<c>POST /api/sites</c>).</summary>
internal static class AdminApi
{
    /// <summary>A prefix no earlier run used, so a run's counters are its own even on a shared Redis.</summary>
    public static string NewRunPrefix(string kind) => $"lt-{kind}-{Guid.NewGuid():N}"[..(kind.Length + 12)];

    public static async Task<LoadSite> CreateSiteAsync(Uri baseAddress, string adminToken, string id, string timeZone, bool publicCounter, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
        using var response = await http.PostAsJsonAsync("/api/sites",
            new { id, domains = new[] { LoadSite.DomainOf(id) }, timeZone, publicCounter }, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /api/sites for '{id}' answered {(int)response.StatusCode}: {body}");
        }

        using var json = JsonDocument.Parse(body);
        var key = json.RootElement.TryGetProperty("ingestKey", out var k) ? k.GetString() : null;
        return new LoadSite(id, timeZone, key ?? throw new InvalidOperationException($"POST /api/sites for '{id}' answered without an ingestKey: {body}"));
    }

    /// <summary>Creates <paramref name="count"/> sites named {prefix}-0 … with the zones of <see cref="LoadSite.Zones"/> in turn (or all UTC).</summary>
    public static async Task<IReadOnlyList<LoadSite>> CreateSitesAsync(Uri baseAddress, string adminToken, string prefix, int count, bool utcOnly, bool publicCounter, CancellationToken cancellationToken)
    {
        var sites = new List<LoadSite>(count);
        for (var i = 0; i < count; i++)
        {
            var zone = utcOnly ? "UTC" : LoadSite.Zones[i % LoadSite.Zones.Length];
            sites.Add(await CreateSiteAsync(baseAddress, adminToken, $"{prefix}-{i}", zone, publicCounter, cancellationToken));
        }

        return sites;
    }
}
