using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Analytics.Tests.Infrastructure;

/// <summary>The service in-process against the real servers, with a clock the test controls.</summary>
public sealed class TestApp : WebApplicationFactory<Program>
{
    public const string AdminToken = "test-admin-token";

    private readonly Dictionary<string, string?> _settings;

    public TestApp(Servers servers, Dictionary<string, string?>? settings = null, string? redis = null, string? clickHouse = null)
    {
        _settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = redis ?? servers.RedisConnection,
            ["ConnectionStrings:ClickHouse"] = clickHouse ?? servers.ClickHouseConnection,
            ["Analytics:AdminToken"] = AdminToken,
            ["Analytics:Ingest:ClientRateLimit"] = "0",
        };
        foreach (var (key, value) in settings ?? [])
        {
            _settings[key] = value;
        }
    }

    /// <summary>The service's clock; it starts early in November 2026 so tests can move it to any later moment.</summary>
    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero));

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureServices(services => services.Replace(ServiceDescriptor.Singleton<TimeProvider>(Time)));
        builder.ConfigureLogging(logging => logging.AddProvider(new LogCapture(Logs)));
    }

    /// <summary>What the service logged (after the configured level filters): level, category, message.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(LogLevel Level, string Category, string Message)> Logs { get; } = new();

    private sealed class LogCapture(System.Collections.Concurrent.ConcurrentQueue<(LogLevel, string, string)> logs) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(logs, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<(LogLevel, string, string)> logs, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                logs.Enqueue((logLevel, category, formatter(state, exception)));
        }
    }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    /// <summary>Sends page views as a back-filling batch: (url, ts) pairs, ts null for now.</summary>
    public async Task SendBatchAsync(string ingestKey, IEnumerable<(string Url, DateTimeOffset? At)> events, string? referrer = null)
    {
        using var client = WithBearer(ingestKey);
        var body = events.Select(e => new { url = e.Url, ts = e.At?.ToString("O"), referrer, ip = "192.0.2." + (e.Url.Length % 200), userAgent = "Mozilla/5.0 Firefox/140.0" }).ToList();
        using var response = await client.PostAsJsonAsync("/api/events", body);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(body.Count, answer.GetProperty("accepted").GetInt32());
    }

    public HttpClient Admin()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        return client;
    }

    public HttpClient WithBearer(string token)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>Creates a site through the admin API and returns its ingest key.</summary>
    public async Task<string> CreateSiteAsync(string id, string domain = "example.com", string timeZone = "UTC", bool publicCounter = true, string[]? queryParameters = null)
    {
        using var admin = Admin();
        using var response = await admin.PostAsJsonAsync("/api/sites", new { id, domains = new[] { domain }, timeZone, publicCounter, queryParameters });
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("ingestKey").GetString()!;
    }

    public async Task<Counts> CountsAsync(string site, int days = 5, HttpClient? client = null)
    {
        var http = client ?? Admin();
        try
        {
            var counts = await http.GetFromJsonAsync<Counts>($"/api/sites/{site}/counts?days={days}", Json);
            return counts!;
        }
        finally
        {
            if (client is null)
            {
                http.Dispose();
            }
        }
    }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public sealed record Day(string Date, long Views, long Visitors);

    public sealed record Counts(string Site, string TimeZone, List<Day> Days, string Today, long Total)
    {
        public long ViewsOn(string date) => Days.Single(d => d.Date == date).Views;
    }
}
