using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;

namespace Analytics.LoadTests.Load;

/// <summary>How one request went: HTTP status (0 when no answer came), hits carried and acknowledged, and the error if any.</summary>
internal readonly record struct Outcome(int Status, int Sent, int Acknowledged, string? Error)
{
    public bool Succeeded => Error is null;
}

/// <summary>A request that got no 2xx: when it was started (Stopwatch ticks), its status (0: none) and exception.</summary>
internal readonly record struct FailedExchange(long StartedAt, int Status, Exception? Exception)
{
    /// <summary>The connection was refused: nothing reached a server.</summary>
    public bool Refused => Exception is not null && FindSocketError(Exception) == SocketError.ConnectionRefused;

    private static SocketError? FindSocketError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is SocketException s)
            {
                return s.SocketErrorCode;
            }
        }

        return null;
    }
}

/// <summary>
/// A kind of traffic. Each request's hits are put in <see cref="LoadWorker.Pending"/>; the answer
/// decides what the worker's ledger records: 2xx (not marked ignored) → acknowledged; 4xx → not
/// counted; 5xx or no answer → uncertain, unless <see cref="MayHaveCounted"/> says it cannot have been.
/// </summary>
internal abstract class Scenario(LoadCatalog catalog)
{
    private const string IgnoredHeader = "X-Analytics-Ignored";

    public abstract string Name { get; }

    public LoadCatalog Catalog { get; } = catalog;

    /// <summary>Whether a failed request may still have been counted (the crash test knows when the service was down).</summary>
    public Func<FailedExchange, bool> MayHaveCounted { get; set; } = _ => true;

    public abstract Task<Outcome> SendAsync(HttpClient http, LoadWorker worker);

    /// <summary>Sends the request for the worker's pending hits and records the outcome in its ledger.</summary>
    protected async Task<Outcome> ExchangeAsync(HttpClient http, HttpRequestMessage request, LoadWorker worker, bool batchAnswer)
    {
        using var disposeRequest = request;
        var sent = worker.Pending.Count;
        var sentAt = DateTimeOffset.UtcNow;
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead);
            var answeredAt = DateTimeOffset.UtcNow;
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300)
            {
                if (response.Headers.Contains(IgnoredHeader))
                {
                    return new Outcome(status, sent, 0, "ignored: " + string.Join(",", response.Headers.GetValues(IgnoredHeader)));
                }

                var rejected = batchAnswer ? await RejectedAsync(response) : null;
                var acknowledged = Acknowledge(worker, sentAt, answeredAt, rejected);
                return new Outcome(status, sent, acknowledged, rejected is { Count: > 0 } ? $"{rejected.Count} events rejected" : null);
            }

            if (status >= 500 && MayHaveCounted(new FailedExchange(started, status, null)))
            {
                Uncertain(worker, sentAt, answeredAt);
            }

            return new Outcome(status, sent, 0, $"HTTP {status}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            if (MayHaveCounted(new FailedExchange(started, 0, e)))
            {
                Uncertain(worker, sentAt, DateTimeOffset.UtcNow);
            }

            return new Outcome(0, sent, 0, Describe(e));
        }
    }

    private int Acknowledge(LoadWorker worker, DateTimeOffset sentAt, DateTimeOffset answeredAt, HashSet<int>? rejected)
    {
        var acknowledged = 0;
        for (var i = 0; i < worker.Pending.Count; i++)
        {
            if (rejected?.Contains(i) == true)
            {
                continue;
            }

            var hit = worker.Pending[i];
            acknowledged++;
            if (hit.Day is { } fixedDay)
            {
                worker.Ledger.Acknowledge(new LedgerCell(hit.Site, fixedDay, hit.Page, hit.Referrer));
                continue;
            }

            // The service takes the day when it handles the hit: somewhere between sending and the answer.
            var site = Catalog.Sites[hit.Site];
            var first = site.LocalDay(sentAt);
            var last = site.LocalDay(answeredAt);
            var cell = new LedgerCell(hit.Site, first, hit.Page, hit.Referrer);
            if (first == last)
            {
                worker.Ledger.Acknowledge(cell);
            }
            else
            {
                worker.Ledger.EitherDay(cell, last);
            }
        }

        return acknowledged;
    }

    private void Uncertain(LoadWorker worker, DateTimeOffset sentAt, DateTimeOffset endedAt)
    {
        foreach (var hit in worker.Pending)
        {
            var site = Catalog.Sites[hit.Site];
            var first = hit.Day ?? site.LocalDay(sentAt);
            var last = hit.Day ?? site.LocalDay(endedAt);
            worker.Ledger.Uncertain(new LedgerCell(hit.Site, first, hit.Page, hit.Referrer));
            if (last != first)
            {
                worker.Ledger.Uncertain(new LedgerCell(hit.Site, last, hit.Page, hit.Referrer));
            }
        }
    }

    /// <summary>The indexes a batch answer lists as rejected (<c>{"accepted":n,"rejected":[{"index",…}]}</c>).</summary>
    private static async Task<HashSet<int>?> RejectedAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsByteArrayAsync();
        try
        {
            using var json = JsonDocument.Parse(body);
            if (!json.RootElement.TryGetProperty("rejected", out var rejected) || rejected.GetArrayLength() == 0)
            {
                return null;
            }

            return [.. rejected.EnumerateArray().Select(r => r.GetProperty("index").GetInt32())];
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Describe(Exception e)
    {
        var inner = e;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner is SocketException s ? $"socket: {s.SocketErrorCode}" : $"{inner.GetType().Name}: {inner.Message}";
    }
}
