async def test_me(client, callers):
    response = await client.get("/api/v1/me", headers=callers.headers("employee"))
    assert response.status_code == 200
    assert response.json()["email"] == callers.people["employee"].email
